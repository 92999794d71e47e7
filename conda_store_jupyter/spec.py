"""Parse, validate, normalise and hash specifications (conda environment YAML or conda-lock files).

A specification is identified by the sha256 of its canonical JSON, so two texts that differ only
in formatting, comments or key order are the same specification. Policies (default and allowed
channels, default/required/included packages) are applied before hashing: the stored
specification says exactly what was built.

Everything here is pure: parsing only, no I/O, no solving.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import pydantic
import rattler
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from rattler.exceptions import InvalidChannelError, InvalidMatchSpecError

from .errors import SpecError

if TYPE_CHECKING:  # imported where used, as in artifacts.py (conda-lock's __init__ is slow)
    from conda_lock.lockfile.v2prelim.models import Lockfile

__all__ = [
    "MAX_LOCKFILE_BYTES",
    "MAX_SPEC_BYTES",
    "LockfileSpecification",
    "SpecPolicy",
    "Specification",
    "apply_policy",
    "parse_conda_lock",
    "parse_lockfile_specification",
    "parse_specification",
    "split_package_url",
    "validate_name",
]

# Every form of a specification is held to the same limits: text (YAML) is measured in bytes
# before parsing; an already parsed mapping (a JSON object in a request) as its compact JSON.
MAX_SPEC_BYTES = 1_000_000
# Conda and pip dependencies, channels and variables together, whatever the form.
MAX_SPEC_ENTRIES = 10_000
# Lock files are larger: they list every package for every platform (a big environment locked
# for four platforms takes a few MB).
MAX_LOCKFILE_BYTES = 10_000_000
MAX_NAME_LENGTH = 128
# Far more than any specification or lock file needs (they nest 4-5 levels).
MAX_YAML_DEPTH = 32
SPEC_KEYS = ("name", "channels", "dependencies", "variables", "prefix", "description")
LOCKFILE_VERSION = 1

_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)*")
_CHANNEL_SCHEMES = ("http://", "https://", "file://")
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org/"


# ---------------------------------------------------------------------------------------------
# Names


def validate_name(kind: str, name: object) -> str:
    """Return `name` if it is a valid `kind` name (e.g. "namespace", "environment").

    Names become directory names in the store, so the rule is strict: 1-128 characters of
    ``[A-Za-z0-9._-]``, not starting with ``.`` or ``-`` (which also rules out ``.`` and ``..``).
    """
    if not isinstance(name, str):
        raise SpecError(f"{kind} name must be a string, got {_type_name(name)}")

    def invalid(rule: str) -> SpecError:
        shown = name if len(name) <= 40 else f"{name[:40]}..."
        return SpecError(f"{kind} name {shown!r} is invalid: {rule}")

    if not name:
        raise SpecError(f"{kind} name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise invalid(f"it has {len(name)} characters, at most {MAX_NAME_LENGTH} are allowed")
    if "/" in name:
        raise invalid("it must not contain '/'")
    if "\0" in name:
        raise invalid("it must not contain a NUL character")
    if name in (".", ".."):
        raise invalid("it must not be '.' or '..'")
    if not _NAME_CHARS.fullmatch(name):
        bad = sorted({char for char in name if not _NAME_CHARS.fullmatch(char)})
        raise invalid(
            f"only letters, digits, '.', '_' and '-' are allowed, not {', '.join(map(repr, bad))}"
        )
    if name[0] in ".-":
        raise invalid("it must not start with '.' or '-'")
    return name


# ---------------------------------------------------------------------------------------------
# Safe YAML


# libyaml parses about ten times faster than the pure-Python parser; both are safe loaders.
_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SpecLoader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """A safe loader that also refuses duplicate mapping keys (YAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float)):
                continue  # unhashable keys are refused by the base class
            if key in seen:
                raise SpecError(
                    f"Invalid YAML: duplicate key {key!r} ({_where(key_node.start_mark)})"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# No number in a specification or lock file needs more (sizes, timestamps, build numbers); a
# longer one would be an integer Python cannot even print (past 4,300 digits).
MAX_NUMBER_CHARACTERS = 64


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise SpecError(
            f"Invalid YAML: a number of {len(text):,} characters ({_where(node.start_mark)}); "
            f"at most {MAX_NUMBER_CHARACTERS} are allowed"
        )
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_SpecLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _decode(source: str | bytes, what: str, limit: int = MAX_SPEC_BYTES) -> str:
    """Refuse oversized input before any parsing, then decode UTF-8."""
    if isinstance(source, str):
        # A character takes at least one byte: a text this long is refused without encoding it.
        if len(source) > limit:
            raise SpecError(
                f"{what} is too large: {len(source):,} characters, the limit is {limit:,} bytes"
            )
        try:
            source = source.encode("utf-8")
        except UnicodeEncodeError as error:  # lone surrogates, e.g. from a JSON "\udc80"
            raise SpecError(
                f"{what} is not valid Unicode: {error.reason} at character {error.start}"
            ) from None
    if not isinstance(source, bytes):
        raise SpecError(f"{what} must be text, got {_type_name(source)}")
    if len(source) > limit:
        raise SpecError(f"{what} is too large: {len(source):,} bytes, the limit is {limit:,} bytes")
    try:
        return source.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            f"{what} is not valid UTF-8: {error.reason} at byte {error.start}"
        ) from None


def _measure(content: Mapping[str, Any], what: str, limit: int) -> None:
    """Refuse a parsed mapping larger than `limit` bytes of compact JSON: the size limit of
    text, applied to content that arrives already parsed."""
    try:
        size = len(
            json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode(
                "utf-8", "surrogatepass"
            )
        )
    except RecursionError:  # an absurdly deep structure
        raise SpecError(f"{what} is nested too deeply") from None
    except ValueError as error:  # a circular structure, an integer of thousands of digits
        reason = str(error).split(";")[0]
        raise SpecError(f"{what} holds a value that cannot be read ({reason})") from None
    if size > limit:
        raise SpecError(
            f"{what} is too large: {size:,} bytes as JSON, the limit is {limit:,} bytes"
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


def _where(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _check_events(text: str) -> None:
    """Refuse aliases (billion laughs) and deep nesting before anything is constructed.

    The event parser is iterative, so this scan is safe on any input; composing a deeply nested
    document is not (libyaml's composer recurses on the C stack and crashes the process).
    """
    try:
        _scan_events(text, _BASE_LOADER)
    except yaml.MarkedYAMLError as error:
        # libyaml may stop first, in its own words (PyYAML >= 6.0.4 has a nesting limit of its
        # own that fires while scanning ahead). The pure-Python parser has no such limit: read the
        # text up to that point with it, so that our own rules speak wherever they apply (bounded:
        # the slow parser never reads more than a specification's worth of text).
        mark = error.problem_mark or error.context_mark
        if _BASE_LOADER is yaml.SafeLoader or mark is None or mark.index > MAX_SPEC_BYTES:
            raise
        _scan_events(text[: mark.index + 1], yaml.SafeLoader, stop_at_error=True)
        raise


def _scan_events(text: str, loader: type[yaml.SafeLoader], stop_at_error: bool = False) -> None:
    depth = 0
    events = yaml.parse(text, Loader=loader)
    while True:
        try:
            event = next(events)
        except StopIteration:
            return
        except yaml.YAMLError:
            if stop_at_error:  # the caller reports the original error
                return
            raise
        if isinstance(event, yaml.AliasEvent):
            raise SpecError(
                "YAML aliases are not allowed in a specification "
                f"(alias *{event.anchor} at {_where(event.start_mark)})"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise SpecError(
                    f"Invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels "
                    f"({_where(event.start_mark)})"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _load_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing aliases, deep nesting and duplicate keys."""
    try:
        _check_events(text)
        return yaml.load(text, Loader=_SpecLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        problem = error.problem or error.context or "malformed document"
        mark = error.problem_mark or error.context_mark
        where = f" ({_where(mark)})" if mark else ""
        raise SpecError(f"Invalid YAML: {problem}{where}") from None
    except yaml.YAMLError as error:  # e.g. a reader error: a control character in the text
        problem = str(error).splitlines()[0]
        position = getattr(error, "position", None)
        where = f" (character {position})" if position is not None else ""
        raise SpecError(f"Invalid YAML: {problem}{where}") from None
    except ValueError as error:  # a scalar YAML types but Python cannot hold: an integer of
        # thousands of digits, a date 2001-13-45
        reason = str(error).split(";")[0]
        raise SpecError(f"Invalid YAML: a value cannot be read ({reason})") from None


def _type_name(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------
# Field validation


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    """Drop exact duplicates, keeping the order of first appearance."""
    return tuple(dict.fromkeys(items))


def _string_list(spec: Mapping[str, Any], field: str) -> list[str]:
    value = spec.get(field)
    if value is None:  # `field:` with nothing after it
        return []
    if not isinstance(value, list):
        raise SpecError(f"{field} must be a list, got {_type_name(value)}")
    return value


def _validate_channel(channel: object, where: str) -> str:
    if not isinstance(channel, str):
        raise SpecError(
            f"{where} must be a string (a channel name or URL), got {_type_name(channel)}"
        )
    channel = channel.strip()
    if channel.startswith(_CHANNEL_SCHEMES):
        if any(char.isspace() or ord(char) < 32 for char in channel):
            raise SpecError(f"{where} {channel!r} is not a valid channel URL")
        try:
            rattler.Channel(channel)
        except InvalidChannelError as error:
            raise SpecError(f"{where} {channel!r} is not a valid channel URL: {error}") from None
    elif "://" in channel:
        raise SpecError(
            f"{where} {channel!r} has an unsupported URL scheme; use one of "
            f"{', '.join(scheme.rstrip('/') for scheme in _CHANNEL_SCHEMES)}"
        )
    elif not _CHANNEL_NAME.fullmatch(channel) or ".." in channel.split("/"):
        raise SpecError(
            f"{where} {channel!r} is not a valid channel: expected a name such as 'conda-forge' "
            "(letters, digits, '.', '_', '-', '/' for labels) or an http(s):// or file:// URL"
        )
    return channel


def _match_spec(entry: str, where: str) -> rattler.MatchSpec:
    try:
        return rattler.MatchSpec(entry)
    except InvalidMatchSpecError as error:
        raise SpecError(f"{where} {entry!r} is not a valid conda package spec: {error}") from None


def _conda_name(entry: str) -> str:
    return _match_spec(entry, "dependency").name.normalized


def _pip_name(entry: str) -> str:
    return canonicalize_name(Requirement(entry).name)


def _validate_conda_dependency(entry: str, where: str) -> str:
    entry = _collapse(entry)
    _match_spec(entry, where)
    return entry


def _expansion_problem(text: str) -> str | None:
    """Why `text` (a pip requirement or a URL) cannot be handed to uv or conda-lock as is.

    uv expands ``${NAME}`` from its environment in requirements (files, standard input, command
    line arguments and pyproject.toml alike), and conda-lock does in lock-file URLs: a `$` would
    let the text read the build's environment, so none is accepted (write it ``%24`` in a URL).
    Control characters and backslashes (a line continuation in a requirements file) are refused
    too, so that the tool reads exactly the one requirement that was checked."""
    if "$" in text:
        return (
            "must not contain '$': environment variables are never expanded in what a build "
            "installs (write '%24' for a literal '$' in a URL)"
        )
    if "\\" in text:
        return "must not contain a backslash"
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        return "must not contain control characters"
    return None


def _looks_like_path(entry: str) -> bool:
    return entry.startswith((".", "/", "~")) or ("/" in entry and "://" not in entry)


def _validate_pip_requirement(entry: object, where: str) -> str:
    """A pip requirement as PEP 508 writes it (``name``, ``name>=1``, ``name @ https://...``),
    which uv reads as that one requirement and nothing else. Where packages may come from (an
    index, a direct URL's host, local files, VCS) is the policy's: `PipSourcePolicy.check`."""
    if not isinstance(entry, str):
        raise SpecError(f"{where} must be a string (a pip requirement), got {_type_name(entry)}")
    entry = _collapse(entry)
    problem = _expansion_problem(entry)
    if problem is not None:
        raise SpecError(f"{where} {entry!r} {problem}")
    try:
        Requirement(entry)
    except InvalidRequirement as error:
        if "://" in entry.split(" ", 1)[0]:
            raise SpecError(
                f"{where} {entry!r} is a bare URL, not a pip requirement: write 'name @ URL' "
                "(where the administrator allows that URL)"
            ) from None
        if _looks_like_path(entry):
            raise SpecError(
                f"{where} {entry!r} is a local path, not a pip requirement: name the package "
                "(e.g. 'name>=1.0'), or 'name @ URL' where the administrator allows that URL"
            ) from None
        reason = str(error).splitlines()[0]  # the rest is an ASCII-art pointer
        raise SpecError(f"{where} {entry!r} is not a valid pip requirement: {reason}") from None
    return entry


def _parse_dependencies(spec: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    conda: list[str] = []
    pip: list[str] | None = None
    for index, entry in enumerate(_string_list(spec, "dependencies")):
        where = f"dependencies[{index}]"
        if isinstance(entry, str):
            conda.append(_validate_conda_dependency(entry, where))
        elif isinstance(entry, dict) and list(entry) == ["pip"]:
            if pip is not None:
                raise SpecError(f"{where}: only one 'pip' section is allowed in dependencies")
            pip = [
                _validate_pip_requirement(requirement, f"{where}.pip[{pip_index}]")
                for pip_index, requirement in enumerate(_string_list(entry, "pip"))
            ]
        else:
            raise SpecError(
                f"{where} must be a conda package spec (a string) or a mapping "
                f"{{pip: [requirements]}}, got {_type_name(entry)}"
                + (f" with keys {sorted(map(str, entry))}" if isinstance(entry, dict) else "")
            )
    return _unique(conda), _unique(pip or ())


# Environment variables an environment's `variables` may not set: each makes a shell, the dynamic
# loader or an interpreter run or load code when the kernel (or anything it starts) starts, or
# undoes the activation itself. Compared in upper case (Windows ignores case).
DENIED_VARIABLES = frozenset(
    {
        # shells: read and run at start, or change how every script runs
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS1",
        "PS2",
        "PS3",
        "PS4",
        "PROMPT_COMMAND",
        "IFS",
        "CDPATH",
        "GLOBIGNORE",
        "EXECIGNORE",
        "POSIXLY_CORRECT",
        "ZDOTDIR",
        "INPUTRC",
        # the dynamic loader and libc
        "GCONV_PATH",
        # Python: startup files, import paths, modules imported by name
        "PYTHONSTARTUP",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONINSPECT",
        "PYTHONUSERBASE",
        "PYTHONEXECUTABLE",
        "PYTHONBREAKPOINT",
        "PYTHONPLATLIBDIR",
        "PYTHONWARNINGS",
        "PYTHONPYCACHEPREFIX",
        # other interpreters' startup hooks
        "PERL5OPT",
        "PERL5LIB",
        "PERLLIB",
        "RUBYOPT",
        "RUBYLIB",
        "NODE_OPTIONS",
        "NODE_PATH",
        "LUA_INIT",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "R_PROFILE",
        "R_PROFILE_USER",
        "R_ENVIRON",
        "R_ENVIRON_USER",
        # the activation, and where IPython and Jupyter read startup files and configuration
        "PATH",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "CONDA_SHLVL",
        "HOME",
        "XDG_CONFIG_HOME",
        "IPYTHONDIR",
    }
)
# ... and every name starting with one of these: bash's own variables (BASH_ENV, BASH_FUNC_*
# function imports, BASH_LOADABLES_PATH), the loaders' (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT,
# DYLD_INSERT_LIBRARIES), Jupyter's paths and the kernel's parent (JUPYTER_*, JPY_*).
DENIED_VARIABLE_PREFIXES = ("BASH_", "LD_", "DYLD_", "JUPYTER_", "JPY_")


def variable_name_problem(name: object) -> str | None:
    """Why `name` cannot be one of an environment's `variables` (a predicate to follow the
    quoted name: "is not a valid...", "cannot be set..."), or None if it can.

    Used when a specification is submitted and again when kernels are written (for
    specifications stored before a rule existed)."""
    if not isinstance(name, str) or not _ENV_VAR_NAME.fullmatch(name):
        return (
            "is not a valid environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    upper = name.upper()
    if upper in DENIED_VARIABLES or upper.startswith(DENIED_VARIABLE_PREFIXES):
        return (
            "cannot be set by an environment: shells, the dynamic loader, interpreters or "
            "the kernel's activation act on it when a kernel starts"
        )
    return None


def _parse_variables(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """An environment's `variables`: names that are identifiers and not denied
    (`variable_name_problem`); values are plain text, never evaluated (see kernels.py)."""
    variables = spec.get("variables")
    if variables is None:
        return ()
    if not isinstance(variables, dict):
        raise SpecError(
            f"variables must be a mapping of names to values, got {_type_name(variables)}"
        )
    result: dict[str, str] = {}
    for key, value in variables.items():
        problem = variable_name_problem(key)
        if problem is not None:
            raise SpecError(f"variables: {key!r} {problem}")
        if isinstance(value, bool):  # before int: bool is an int; keep YAML's spelling
            result[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            result[key] = str(value)
        else:
            raise SpecError(
                f"variables.{key} must be a string, number or boolean, got {_type_name(value)}"
            )
        if "\0" in result[key]:
            raise SpecError(f"variables.{key} must not contain a NUL character")
    return tuple(sorted(result.items()))


# ---------------------------------------------------------------------------------------------
# Specification


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

    Raises `SpecError` with a message naming the problem.
    """
    if isinstance(source, Mapping):
        _measure(source, "specification", MAX_SPEC_BYTES)
        content: Any = source
    else:
        content = _load_yaml(_decode(source, "specification"))
    if not isinstance(content, Mapping):
        raise SpecError(
            "specification must be a mapping (name, channels, dependencies...), "
            f"got {_type_name(content)}"
        )
    entries = _entry_count(content)
    if entries > MAX_SPEC_ENTRIES:
        raise SpecError(
            f"specification is too large: {entries:,} dependencies, channels and variables, "
            f"the limit is {MAX_SPEC_ENTRIES:,}"
        )

    unknown = [key for key in content if key not in SPEC_KEYS]
    if unknown:
        raise SpecError(
            f"unknown field(s) in specification: {', '.join(map(repr, unknown))}; "
            f"allowed fields: {', '.join(SPEC_KEYS)}"
        )
    if "name" not in content:
        raise SpecError("specification must have a 'name'")
    name = validate_name("environment", content["name"])
    description = content.get("description")
    if description is not None and not isinstance(description, str):
        raise SpecError(f"description must be a string, got {_type_name(description)}")

    dependencies, pip = _parse_dependencies(content)
    channels = [
        _validate_channel(channel, f"channels[{index}]")
        for index, channel in enumerate(_string_list(content, "channels"))
    ]
    return Specification(
        name=name,
        channels=_unique(channels),
        dependencies=dependencies,
        pip=pip,
        variables=_parse_variables(content),
        description=description,
    )


# ---------------------------------------------------------------------------------------------
# Lock-file specifications


@dataclass(frozen=True)
class LockfileSpecification:
    """A conda-lock file (version 1) used as a specification: install exactly what it pins.

    `lockfile` is the normalised v1 content as plain JSON data (packages sorted, comments and
    formatting gone), so the hash is that of the pinned package set, not of the text.
    """

    name: str
    lockfile: dict[str, Any]
    platforms: tuple[str, ...]
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "lockfile": self.lockfile}

    @classmethod
    def from_dict(cls, content: Mapping[str, Any]) -> LockfileSpecification:
        """The inverse of `to_dict` (e.g. for a specification stored in the database)."""
        return parse_lockfile_specification(content["lockfile"], content["name"])

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def to_conda_lock(self) -> Lockfile:
        """conda-lock's own (v2) model of the lock file."""
        return parse_conda_lock(self.lockfile)


def _entry_label(content: Any, loc: tuple[Any, ...]) -> str:
    """` (six 1.16.0, pip)` for a problem inside entry N of a lock file's `package` list, so that
    the message names the package and not only its position."""
    if not (len(loc) >= 2 and loc[0] == "package" and isinstance(loc[1], int)):
        return ""
    packages = content.get("package") if isinstance(content, Mapping) else None
    if not isinstance(packages, list) or not 0 <= loc[1] < len(packages):
        return ""
    entry = packages[loc[1]]
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        return ""
    words = [str(entry[key]) for key in ("name", "version") if isinstance(entry.get(key), str)]
    manager = entry.get("manager")
    return f" ({' '.join(words)}{f', {manager}' if isinstance(manager, str) else ''})"


def _validation_problem(error: pydantic.ValidationError, content: Any = None) -> str:
    problems = [
        f"{'.'.join(map(str, item['loc'])) or 'lock file'}{_entry_label(content, item['loc'])}: "
        f"{item['msg']}"
        for item in error.errors()[:5]
    ]
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def parse_conda_lock(source: str | bytes | Mapping[str, Any]) -> Lockfile:
    """Validate a conda-lock file (text or parsed content) with conda-lock's own models.

    Returns conda-lock's v2 model (the in-memory form conda-lock itself uses for v1 files).
    """
    from conda_lock.lockfile.v1.models import Lockfile as LockfileV1
    from conda_lock.lockfile.v2prelim.models import lockfile_v1_to_v2

    if isinstance(source, Mapping):
        _measure(source, "lock file", MAX_LOCKFILE_BYTES)
        content: Any = dict(source)
    else:
        content = _load_yaml(_decode(source, "lock file", MAX_LOCKFILE_BYTES))
    if not isinstance(content, dict):
        raise SpecError(f"not a conda-lock file: expected a mapping, got {_type_name(content)}")
    if "version" not in content:
        raise SpecError("not a conda-lock file: it has no 'version' field")
    version = content.pop("version")
    if version != LOCKFILE_VERSION:
        raise SpecError(
            f"unsupported conda-lock file version {version!r}; "
            f"version {LOCKFILE_VERSION} is supported"
        )
    _check_lockfile_urls(content)  # before conda-lock's models look at them
    try:
        lockfile = lockfile_v1_to_v2(LockfileV1.model_validate(content))
    except pydantic.ValidationError as error:
        raise SpecError(f"invalid conda-lock file: {_validation_problem(error, content)}") from None
    platforms = set(lockfile.metadata.platforms)
    stray = sorted({package.platform for package in lockfile.package} - platforms)
    if stray:
        raise SpecError(
            f"invalid conda-lock file: packages for platform(s) {', '.join(stray)} "
            f"not listed in metadata.platforms ({', '.join(sorted(platforms))})"
        )
    return lockfile


def parse_lockfile_specification(
    source: str | bytes | Mapping[str, Any], name: str, description: str | None = None
) -> LockfileSpecification:
    """Parse a conda-lock file (``conda-lock.yml``, version 1) as the specification `name`."""
    name = validate_name("environment", name)
    lockfile = parse_conda_lock(source)
    for package in lockfile.package:
        if package.manager == "pip":
            check_locked_pip_package(
                package.name, package.version, package.url, package.hash.sha256
            )
    # The same normalisation conda-lock applies before writing: sorted, no virtual packages.
    lockfile.alphasort_inplace()
    lockfile.filter_virtual_packages_inplace()
    v1 = lockfile.to_v1()
    content = {
        "version": v1.version,
        "metadata": v1.metadata.model_dump(mode="json", exclude_none=True),
        "package": [package.model_dump(mode="json", exclude_none=True) for package in v1.package],
    }
    # What is stored is read again by every build: it must pass the limit of parsed content.
    _measure(content, "lock file", MAX_LOCKFILE_BYTES)
    return LockfileSpecification(
        name=name,
        lockfile=content,
        platforms=tuple(lockfile.metadata.platforms),
        description=description,
    )


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# conda-lock's own pattern of an anaconda.org token in a channel URL (`/t/<token>/`).
_CHANNEL_TOKEN = re.compile(r"/t/[^/]*/")


def _lockfile_url_problem(url: str) -> str | None:
    problem = _expansion_problem(url)
    if problem is not None:
        return problem
    netloc = urllib.parse.urlsplit(url).netloc
    if "@" in netloc or _CHANNEL_TOKEN.search(url):
        return (
            "must not carry credentials (user:password@ or a /t/<token>/); channel "
            "credentials are the server's configuration (rattler's authentication)"
        )
    return None


def _check_lockfile_urls(content: Mapping[str, Any]) -> None:
    """Refuse a lock file whose channel or package URLs hold `$` or credentials, before
    conda-lock reads them.

    conda-lock expands ``${NAME}`` in channel URLs from the environment, and, reading a channel
    URL with credentials, looks for an environment variable whose value is that user, password
    or token and writes its name in their place: either would let a submitted lock file read
    the environment of the process that parses it (the server, or a build). So the lock file's
    raw text is checked first, and nothing in it is ever expanded (see
    `artifacts.records_from_lockfile`)."""
    metadata = content.get("metadata")
    channels = metadata.get("channels") if isinstance(metadata, Mapping) else None
    for index, channel in enumerate(channels if isinstance(channels, list) else []):
        url = channel.get("url") if isinstance(channel, Mapping) else channel
        if isinstance(url, str):
            problem = _lockfile_url_problem(url)
            if problem is not None:
                raise SpecError(
                    f"invalid conda-lock file: metadata.channels.{index} {url!r} {problem}"
                )
    packages = content.get("package")
    for index, package in enumerate(packages if isinstance(packages, list) else []):
        url = package.get("url") if isinstance(package, Mapping) else None
        if isinstance(url, str):
            problem = _lockfile_url_problem(url)
            if problem is not None:
                label = _entry_label(content, ("package", index))
                raise SpecError(f"invalid conda-lock file: package.{index}.url{label} {problem}")


def check_locked_pip_package(name: str, version: str, url: str, sha256: str | None) -> None:
    """Check that a lock file's pip entry pins exactly one file that uv can install as
    ``name @ url --hash=sha256:...`` (see `pip.install_locked_pip_packages`): a valid package
    name, an absolute URL without spaces, a sha256 of 64 hex digits if any. Raises `SpecError`
    naming the package. Where the URL may point is the policy's (`PipSourcePolicy.check_url`,
    from `apply_policy` and again in the build)."""
    what = locked_pip_label(name, version)
    problem = _expansion_problem(url)
    if problem is not None:
        raise SpecError(f"{what}: its URL {problem}")
    if "://" not in url or any(character.isspace() for character in url):
        raise SpecError(
            f"{what}: {url!r} is not a URL; a lock file must pin each pip package to the URL "
            "of its file (wheel or source archive)"
        )
    try:
        requirement = Requirement(f"{name} @ {url}")
    except InvalidRequirement as error:
        raise SpecError(f"{what}: not an installable requirement ({error})") from None
    if (
        requirement.name != name
        or requirement.url != url
        or requirement.extras
        or requirement.marker
    ):
        raise SpecError(f"{what}: {name!r} @ {url!r} is not a plain package name and URL")
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise SpecError(f"{what}: sha256 {sha256!r} is not 64 hexadecimal digits")


def split_package_url(url: str) -> tuple[str, str, str]:
    """(channel, subdir, file name) of a package URL ``<channel>/<subdir>/<file name>``."""
    parts = url.rsplit("/", 2)
    if len(parts) != 3 or not all(parts) or "://" not in parts[0]:
        raise SpecError(f"{url!r} is not a package URL (<channel>/<subdir>/<file name>)")
    channel, subdir, file_name = parts
    return channel, subdir, file_name


# ---------------------------------------------------------------------------------------------
# Policy


def _channel_key(channel: str) -> str:
    """Compare channels ignoring a trailing '/' and the default channel alias."""
    channel = channel.rstrip("/")
    return channel.removeprefix(_DEFAULT_CHANNEL_ALIAS)


PYPI_INDEX_URL = "https://pypi.org/simple"
PYPI_FILES_HOST = "files.pythonhosted.org"  # where PyPI's index points for every file
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
# Names uv reads as a file next to it rather than a project name (`six-1.0.tar.gz`).
_ARCHIVE_SUFFIXES = (
    ".whl",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tbz2",
    ".tar.xz",
    ".txz",
    ".tar.zst",
    ".tar",
    ".zip",
)


@dataclass(frozen=True)
class PipSourcePolicy:
    """Where the pip packages of a build may come from: the ``CondaStore.pip_*`` source
    settings. Checked when a specification or lock file is submitted (`apply_policy`, a 400
    naming the entry) and again by the build before uv runs (`pip.py`), which also takes its
    index and wheel-only flags from here: one source of truth for both.

    - `index_url`, `extra_index_urls`: the indexes uv resolves names against.
    - `allowed_hosts`: hosts a direct URL (``name @ https://host/...``, a lock file's pip URL)
      may name, as glob patterns (``*`` for any host; ``host:port`` for one port only). The
      indexes' own hosts are always allowed.
    - `allow_vcs`: ``name @ git+https://host/...`` from an allowed host (never ssh: that would
      clone with the server's keys).
    - `allow_local`: ``name @ file:///...`` and paths: files of the machine the build runs on.
    - `only_binary`: wheels only (uv ``--only-binary :all:``): no source distribution, VCS
      checkout or local directory is built, so no package's code runs during a build.
    """

    index_url: str = PYPI_INDEX_URL
    extra_index_urls: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = (PYPI_FILES_HOST,)
    allow_vcs: bool = False
    allow_local: bool = False
    only_binary: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_index_urls", tuple(self.extra_index_urls))
        object.__setattr__(
            self, "allowed_hosts", tuple(host.strip().lower() for host in self.allowed_hosts)
        )
        for field, urls in (
            ("pip_index_url", (self.index_url,)),
            ("pip_extra_index_urls", self.extra_index_urls),
        ):
            for url in urls:
                problem = _expansion_problem(url)
                parts = urllib.parse.urlsplit(url)
                if (
                    problem
                    or parts.scheme not in ("http", "https", "file")
                    or not (parts.hostname or parts.scheme == "file")
                ):
                    raise ValueError(
                        f"CondaStore.{field}: {url!r} is not an index URL "
                        f"({problem or 'expected http(s)://host/... or file:///...'})"
                    )

    @property
    def hosts(self) -> tuple[str, ...]:
        """The allowed hosts (patterns), the indexes' hosts included."""
        indexes = (
            urllib.parse.urlsplit(url).hostname for url in (self.index_url, *self.extra_index_urls)
        )
        return (*dict.fromkeys(host for host in indexes if host), *self.allowed_hosts)

    def uv_arguments(self) -> list[str]:
        """uv's flags for these settings (resolve and install alike)."""
        arguments = ["--default-index", self.index_url]
        for url in self.extra_index_urls:
            arguments += ["--index", url]
        if self.only_binary:
            arguments += ["--only-binary", ":all:"]
        return arguments

    def check_requirement(self, entry: str, what: str | None = None) -> None:
        """Refuse a pip requirement (valid per `_validate_pip_requirement`) that names a source
        these settings do not allow. Raises `SpecError` naming the entry."""
        what = what or f"pip requirement {entry!r}"
        problem = _expansion_problem(entry)
        if problem is not None:
            raise SpecError(f"{what} {problem}")
        try:
            requirement = Requirement(entry)
        except InvalidRequirement:
            raise SpecError(f"{what} is not a valid pip requirement") from None
        if requirement.url is None:
            if requirement.name.lower().endswith(_ARCHIVE_SUFFIXES):
                # uv reads `name-1.0.tar.gz` as that file in its working directory.
                self._local(what, entry)
            return
        self.check_url(requirement.url, what)

    def check_url(self, url: str, what: str) -> None:
        """Refuse a direct URL (of a requirement or a lock file's pip entry) these settings do
        not allow. Raises `SpecError` starting with `what`."""
        problem = _expansion_problem(url)
        if problem is not None:
            raise SpecError(f"{what} {problem}")
        if not url.isascii():
            raise SpecError(f"{what}: the URL must be ASCII (percent-encode other characters)")
        if url.lower().startswith(_VCS_PREFIXES):
            if not self.allow_vcs:
                raise SpecError(
                    f"{what} is refused: VCS URLs are not allowed as pip sources "
                    "(the administrator's CondaStore.pip_allow_vcs)"
                )
            if self.only_binary:
                raise SpecError(f"{what} is refused: {self._only_binary} (a VCS URL is built)")
            url = url.split("+", 1)[1]
            if urllib.parse.urlsplit(url).scheme.lower() not in ("https", "http", "file"):
                raise SpecError(f"{what} is refused: a VCS URL must be https:// (or http://)")
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file" or not scheme:
            self._local(what, url)
        elif scheme in ("http", "https"):
            try:
                port = parts.port
            except ValueError:
                raise SpecError(f"{what}: {url!r} is not a valid URL (bad port)") from None
            host = parts.hostname
            if not host:
                raise SpecError(f"{what}: {url!r} is not a valid URL (no host)")
            names = (host, f"{host}:{port}") if port is not None else (host,)
            hosts = self.hosts
            if not any(fnmatch.fnmatchcase(name, pattern) for name in names for pattern in hosts):
                raise SpecError(
                    f"{what} is refused: host {host} is not an allowed pip source; allowed: "
                    f"{', '.join(hosts) or 'none'} "
                    "(the administrator's CondaStore.pip_allowed_hosts)"
                )
        else:
            raise SpecError(
                f"{what} is refused: URL scheme {scheme!r} is not an allowed pip source "
                "(https:// or http:// from an allowed host)"
            )
        if self.only_binary and not parts.path.lower().endswith(".whl"):
            raise SpecError(f"{what} is refused: {self._only_binary}, and {url!r} is not a wheel")

    _only_binary = "only binary wheels are allowed (the administrator's CondaStore.pip_only_binary)"

    def _local(self, what: str, location: str) -> None:
        if not self.allow_local:
            raise SpecError(
                f"{what} is refused: local files and directories are not allowed as pip sources "
                "(the administrator's CondaStore.pip_allow_local)"
            )
        if self.only_binary and not location.lower().split("#")[0].endswith(".whl"):
            raise SpecError(f"{what} is refused: {self._only_binary}")


def locked_pip_label(name: str, version: str) -> str:
    return f"pip package {name} {version} in the lock file"


def check_pip_sources(
    spec: Specification | LockfileSpecification, sources: PipSourcePolicy
) -> None:
    """Refuse a specification whose pip requirements, or a lock file whose pip URLs, name a
    source `sources` does not allow (`SpecError` naming the entry)."""
    if isinstance(spec, Specification):
        for entry in spec.pip:
            sources.check_requirement(entry)
        return
    for package in spec.lockfile.get("package", []):
        if package.get("manager") == "pip":
            sources.check_url(
                str(package.get("url", "")),
                locked_pip_label(package.get("name"), package.get("version")),
            )


@dataclass(frozen=True)
class SpecPolicy:
    """What the store adds to or forbids in specifications (conda-store's settings).

    - `channels`: used when a specification names none.
    - `allowed_channels`: when non-empty, any other channel is refused.
    - `default_packages`: added when the specification has no conda dependencies.
    - `required_packages`: must be named by the specification (by package name).
    - `included_packages`: appended unless the specification names a package of that name.
    - `pip_*`: the same for the ``pip:`` section.
    - `pip_sources`: where pip packages may come from (`PipSourcePolicy`).
    """

    channels: tuple[str, ...] = ()
    allowed_channels: tuple[str, ...] = ()
    default_packages: tuple[str, ...] = ()
    required_packages: tuple[str, ...] = ()
    included_packages: tuple[str, ...] = ()
    pip_default_packages: tuple[str, ...] = ()
    pip_required_packages: tuple[str, ...] = ()
    pip_included_packages: tuple[str, ...] = ()
    pip_sources: PipSourcePolicy = PipSourcePolicy()

    def __post_init__(self) -> None:
        # Configuration mistakes surface at start, not as a user's failed build.
        for field in dataclasses.fields(self):
            if field.name == "pip_sources":
                continue
            values = tuple(getattr(self, field.name))
            for value in values:
                try:
                    if "channels" in field.name:
                        _validate_channel(value, f"CondaStore.{field.name}")
                    elif field.name.startswith("pip_"):
                        _validate_pip_requirement(value, f"CondaStore.{field.name}")
                        # The build checks every requirement against the sources again.
                        self.pip_sources.check_requirement(
                            value, f"CondaStore.{field.name} {value!r}"
                        )
                    else:
                        _validate_conda_dependency(value, f"CondaStore.{field.name}")
                except SpecError as error:
                    raise ValueError(error.message) from None
            object.__setattr__(self, field.name, values)


def _with_policy_packages(
    specified: tuple[str, ...],
    *,
    default: tuple[str, ...],
    required: tuple[str, ...],
    included: tuple[str, ...],
    name_of: Callable[[str], str],
    kind: str,
) -> tuple[str, ...]:
    packages = list(specified) or list(default)
    names = {name_of(package) for package in packages}
    for package in included:
        if name_of(package) not in names:
            packages.append(package)
            names.add(name_of(package))
    missing = [package for package in required if name_of(package) not in names]
    if missing:
        raise SpecError(
            f"the specification must include the {kind} package(s) {', '.join(missing)}"
        )
    return _unique(packages)


def _check_channels(channels: Iterable[str], allowed: tuple[str, ...]) -> None:
    allowed_keys = {_channel_key(channel) for channel in allowed}
    for channel in channels:
        if _channel_key(channel) not in allowed_keys:
            raise SpecError(
                f"channel {channel} is not allowed; allowed channels: {', '.join(allowed)}"
            )


def check_channels_allowed(channels: Iterable[str], policy: SpecPolicy) -> None:
    """Refuse channels the policy does not allow (any channel is fine without allowed_channels)."""
    if policy.allowed_channels:
        _check_channels(channels, policy.allowed_channels)


@overload
def apply_policy(spec: Specification, policy: SpecPolicy) -> Specification: ...


@overload
def apply_policy(spec: LockfileSpecification, policy: SpecPolicy) -> LockfileSpecification: ...


def apply_policy(
    spec: Specification | LockfileSpecification, policy: SpecPolicy
) -> Specification | LockfileSpecification:
    """Return `spec` with the policy applied (channels filled, packages added), or refuse it.

    A lock file is installed as is: only its channels and its pip packages' URLs are checked.
    """
    if isinstance(spec, LockfileSpecification):
        check_pip_sources(spec, policy.pip_sources)
        if policy.allowed_channels:
            lockfile = spec.to_conda_lock()
            channels = [channel.url for channel in lockfile.metadata.channels]
            channels += [
                split_package_url(package.url)[0]
                for package in lockfile.package
                if package.manager == "conda"
            ]
            _check_channels(dict.fromkeys(channels), policy.allowed_channels)
        return spec

    if policy.allowed_channels:
        # `channel::package` names a channel too.
        named = [
            channel.base_url
            for channel in (_match_spec(dep, "dependency").channel for dep in spec.dependencies)
            if channel is not None
        ]
        _check_channels([*spec.channels, *named], policy.allowed_channels)
    check_pip_sources(spec, policy.pip_sources)
    dependencies = _with_policy_packages(
        spec.dependencies,
        default=policy.default_packages,
        required=policy.required_packages,
        included=policy.included_packages,
        name_of=_conda_name,
        kind="conda",
    )
    pip = _with_policy_packages(
        spec.pip,
        default=policy.pip_default_packages,
        required=policy.pip_required_packages,
        included=policy.pip_included_packages,
        name_of=_pip_name,
        kind="pip",
    )
    return dataclasses.replace(
        spec,
        channels=spec.channels or policy.channels,
        dependencies=dependencies,
        pip=pip,
    )
