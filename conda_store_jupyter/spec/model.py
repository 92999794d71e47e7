"""The environment specification: its pydantic model (the one statement of what a specification
may hold, served as JSON Schema), the normalised `Specification` a valid one becomes, and
`parse_specification`.

Every per-entry rule is entries.py's; the model says where each applies. A problem is reported
with its path in the document (keys and list indexes), which check.py places in the text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    WithJsonSchema,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from ..errors import SpecError
from .entries import (
    Refusal,
    check_channel,
    check_conda_dependency,
    check_pip_requirement,
    check_variable_name,
    check_variable_value,
    phrase,
)
from .names import name_json_schema, validate_name
from .text import type_name, unique
from .yamlload import MAX_SPEC_BYTES, decode, load_yaml_nodes, measure

# Conda and pip dependencies, channels and variables together, whatever the form.
MAX_SPEC_ENTRIES = 10_000

Path = tuple[str | int, ...]

# ---------------------------------------------------------------------------------------------
# Validators: each applies one rule of entries.py and says what is wrong in pydantic's terms.


def _refusal(predicate: str, *at: str | int) -> PydanticCustomError:
    """A problem to be told after where it is (the error's location, then `at`)."""
    return PydanticCustomError("refused", "{predicate}", {"predicate": predicate, "at": at})


def _rule(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        try:
            return check(value)
        except Refusal as refusal:
            raise _refusal(str(refusal)) from None

    return validate


def _environment_name(value: Any) -> str:
    try:
        return validate_name("environment", value)
    except SpecError as error:  # a whole sentence, starting "environment name"
        raise PydanticCustomError("whole", "{message}", {"message": error.message}) from None


def _list_or_nothing(value: Any) -> list[Any]:
    if value is None:  # `field:` with nothing after it
        return []
    if not isinstance(value, list):
        raise _refusal(f"must be a list, got {type_name(value)}")
    return value


def _mapping_or_nothing(value: Any) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _refusal(f"must be a mapping of names to values, got {type_name(value)}")
    return value


def _text_or_nothing(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _refusal(f"must be a string, got {type_name(value)}")
    return value


def _not_a_dependency(entry: Any) -> Any:
    raise _refusal(
        "must be a conda package spec (a string) or a mapping "
        f"{{pip: [requirements]}}, got {type_name(entry)}"
        + (f" with keys {sorted(map(str, entry))}" if isinstance(entry, dict) else "")
    )


def _dependency_kind(entry: Any) -> str:
    if isinstance(entry, str):
        return "conda"
    if isinstance(entry, dict) and list(entry) == ["pip"]:
        return "pip"
    return "invalid"


_KINDS = ("conda", "pip", "invalid")  # the tags pydantic adds to a dependency's location


def _or_nothing(schema: dict[str, Any]) -> None:
    """JSON Schema: the field may also be left empty (`channels:` is YAML's null)."""
    kept = {key: schema.pop(key) for key in list(schema) if key not in _ANNOTATIONS}
    if "patternProperties" in kept:  # variables: names other than the pattern's are refused
        kept["additionalProperties"] = False
    schema["anyOf"] = [kept, {"type": "null"}]


_ANNOTATIONS = ("title", "description", "default")


# ---------------------------------------------------------------------------------------------
# The model


def _entry(check: Callable[[Any], Any], schema: dict[str, Any]) -> Any:
    """A string entry that entries.py's `check` validates (and normalises), with its schema."""
    return Annotated[
        str, PlainValidator(_rule(check), json_schema_input_type=str), WithJsonSchema(schema)
    ]


Channel = _entry(
    check_channel, {"type": "string", "description": "a channel name or http(s)/file URL"}
)
CondaDependency = _entry(
    check_conda_dependency, {"type": "string", "description": "a conda match spec ('numpy >=2')"}
)
PipRequirement = _entry(
    check_pip_requirement,
    {"type": "string", "description": "a PEP 508 requirement ('requests>=2')"},
)
VariableName = _entry(
    check_variable_name, {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
)
VariableValue = _entry(check_variable_value, {"type": ["string", "number", "boolean"]})


class PipSection(BaseModel):
    """The ``- pip: [requirements]`` entry of `dependencies`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pip: Annotated[list[PipRequirement], BeforeValidator(_list_or_nothing)] = Field(
        json_schema_extra=_or_nothing
    )


_NotADependency = Annotated[
    Any, PlainValidator(_not_a_dependency), SkipJsonSchema(), Tag("invalid")
]
Dependency = Annotated[
    Annotated[CondaDependency, Tag("conda")] | Annotated[PipSection, Tag("pip")] | _NotADependency,
    Discriminator(_dependency_kind),
]


def _one_pip_section(dependencies: list[Any]) -> list[Any]:
    sections = [index for index, entry in enumerate(dependencies) if isinstance(entry, PipSection)]
    if len(sections) > 1:
        raise _refusal(": only one 'pip' section is allowed in dependencies", sections[1])
    return dependencies


class EnvironmentSpecification(BaseModel):
    """A conda environment specification (``environment.yml``), as conda-store accepts it.

    Fields are declared in the order they are checked (the first problem is the one
    `parse_specification` reports)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Environment specification")

    name: Annotated[
        str,
        PlainValidator(_environment_name, json_schema_input_type=str),
        WithJsonSchema(name_json_schema("environment")),
    ]
    description: Annotated[
        str | None,
        PlainValidator(_text_or_nothing, json_schema_input_type=str | None),
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "null"}]}),
    ] = Field(None, description="Not part of what is hashed.")
    dependencies: Annotated[
        list[Dependency],
        BeforeValidator(_list_or_nothing),
        pydantic.AfterValidator(_one_pip_section),
    ] = Field([], json_schema_extra=_or_nothing)
    channels: Annotated[list[Channel], BeforeValidator(_list_or_nothing)] = Field(
        [], json_schema_extra=_or_nothing
    )
    variables: Annotated[
        dict[VariableName, VariableValue], BeforeValidator(_mapping_or_nothing)
    ] = Field({}, json_schema_extra=_or_nothing)
    prefix: Annotated[Any, WithJsonSchema({"description": "Ignored."})] = None


# Today's order of the fields in messages ("allowed fields: ...").
SPEC_KEYS = ("name", "channels", "dependencies", "variables", "prefix", "description")
assert set(SPEC_KEYS) == set(EnvironmentSpecification.model_fields)


def specification_json_schema() -> dict[str, Any]:
    """The JSON Schema of an environment specification. `$defs.Name` is the rule of every
    namespace and environment name (the `name` property's), for clients to check names with."""
    schema = EnvironmentSpecification.model_json_schema()
    schema.setdefault("$defs", {})["Name"] = name_json_schema("namespace or environment")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# ---------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a specification: the message, where it is in the text (1-based
    line and column, when known) and its path in the document (keys and list indexes)."""

    message: str
    line: int | None = None
    column: int | None = None
    path: Path = ()
    # The problem is about a mapping key (an unknown field, a variable's name), not its value.
    on_key: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "path": list(self.path),
        }


def where(path: Path) -> str:
    """``dependencies[0].pip[1]``, ``variables.A``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f"{'.' if text else ''}{step}"
    return text


def _problem(error: Any) -> Problem:
    loc: Path = tuple(error["loc"])
    if loc[:1] == ("dependencies",) and len(loc) >= 3 and loc[2] in _KINDS:
        loc = loc[:2] + loc[3:]  # the union's tag
    on_key = loc[-1:] == ("[key]",)
    path = loc[:-1] if on_key else loc
    context = error.get("ctx") or {}
    if error["type"] == "whole":
        return Problem(context["message"], path=path)
    if error["type"] == "missing" and path == ("name",):
        return Problem("specification must have a 'name'", path=())
    if error["type"] == "refused":
        path = path + tuple(context["at"])
        message = phrase(where(path[:-1] if on_key else path), context["predicate"])
        return Problem(message, path=path, on_key=on_key)
    return Problem(f"{where(path)}: {error['msg']}", path=path, on_key=on_key)


def unknown_field_problem(key: Any) -> Problem:
    return Problem(
        f"Unknown field {key!r}; allowed fields: {', '.join(SPEC_KEYS)}", path=(key,), on_key=True
    )


def _entry_count(content: Mapping[str, Any]) -> int:
    """Dependencies (conda and pip), channels and variables of a parsed specification."""
    total = 0
    for field in ("dependencies", "channels", "variables"):
        value = content.get(field)
        if isinstance(value, (list, dict)):
            total += len(value)
        if field == "dependencies" and isinstance(value, list):
            total += sum(
                len(entry["pip"])
                for entry in value
                if isinstance(entry, dict) and isinstance(entry.get("pip"), list)
            )
    return total


def read_specification(
    source: str | bytes | Mapping[str, Any],
) -> tuple[Any, yaml.Node | None]:
    """A specification's content (and its YAML nodes, for text), within the size limits and a
    mapping; raises `SpecError` (`YAMLProblem` for the text's own problems) otherwise."""
    node = None
    if isinstance(source, Mapping):
        measure(source, "specification", MAX_SPEC_BYTES)
        content: Any = source
    else:
        content, node = load_yaml_nodes(decode(source, "specification"))
    if not isinstance(content, Mapping):
        raise SpecError(
            "specification must be a mapping (name, channels, dependencies...), "
            f"got {type_name(content)}"
        )
    entries = _entry_count(content)
    if entries > MAX_SPEC_ENTRIES:
        raise SpecError(
            f"specification is too large: {entries:,} dependencies, channels and variables, "
            f"the limit is {MAX_SPEC_ENTRIES:,}"
        )
    return content, node


def validate_content(content: Mapping[str, Any]) -> tuple[Specification | None, list[Problem]]:
    """The specification `content` makes, or what is wrong with it (every problem, in the order
    the fields are checked, unknown fields first)."""
    unknown = [unknown_field_problem(key) for key in content if key not in SPEC_KEYS]
    known = {key: value for key, value in content.items() if key in SPEC_KEYS}
    try:
        model = EnvironmentSpecification.model_validate(known)
    except pydantic.ValidationError as error:
        fields = list(EnvironmentSpecification.model_fields)
        problems = sorted(
            (_problem(item) for item in error.errors()),
            key=lambda problem: fields.index(problem.path[0]) if problem.path else -1,
        )
        return None, unknown + problems
    if unknown:
        return None, unknown
    return Specification.from_model(model), []


# ---------------------------------------------------------------------------------------------
# The normalised specification


@dataclass(frozen=True)
class Specification:
    """A normalised conda environment specification.

    `dependencies` are conda match specs (whitespace collapsed, duplicates dropped, in order of
    first appearance), `pip` the requirements of the ``pip:`` section, `variables` sorted
    (name, value) pairs. `description` is not part of the hash.
    """

    name: str
    channels: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    description: str | None = None

    @classmethod
    def from_model(cls, model: EnvironmentSpecification) -> Specification:
        pip = [entry.pip for entry in model.dependencies if isinstance(entry, PipSection)]
        return cls(
            name=model.name,
            channels=unique(model.channels),
            dependencies=unique(entry for entry in model.dependencies if isinstance(entry, str)),
            pip=unique(pip[0] if pip else ()),
            variables=tuple(sorted(model.variables.items())),
            description=model.description,
        )

    def to_dict(self) -> dict[str, Any]:
        """The conda environment dict that is hashed (no description)."""
        dependencies: list[Any] = list(self.dependencies)
        if self.pip:
            dependencies.append({"pip": list(self.pip)})
        result: dict[str, Any] = {
            "name": self.name,
            "channels": list(self.channels),
            "dependencies": dependencies,
        }
        if self.variables:
            result["variables"] = dict(self.variables)
        return result

    def to_yaml(self) -> str:
        """The specification as environment YAML, description included."""
        content = self.to_dict()
        if self.description is not None:
            content = {"name": self.name, "description": self.description, **content}
        return yaml.safe_dump(content, sort_keys=False, allow_unicode=True)

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def parse_specification(source: str | bytes | Mapping[str, Any]) -> Specification:
    """Parse and validate an environment specification (YAML text or an already parsed dict).

    Raises `SpecError` with a message naming the (first) problem; `check_specification` tells
    them all, with where they are.
    """
    content, _ = read_specification(source)
    spec, problems = validate_content(content)
    if spec is not None:
        return spec
    unknown = [problem.path[0] for problem in problems if problem.on_key and len(problem.path) == 1]
    if unknown:
        raise SpecError(
            f"unknown field(s) in specification: {', '.join(map(repr, unknown))}; "
            f"allowed fields: {', '.join(SPEC_KEYS)}"
        )
    raise SpecError(problems[0].message)
