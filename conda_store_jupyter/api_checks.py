"""The wire models of checking a specification (POST `validate/specification/`): the request,
its problems (also a failed build's, in `api_models.Build.problems`), and what a solve would
install. Re-exported by `api_models`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class _Answer(BaseModel):
    """As `api_models.ApiModel`: immutable values, every field required in what is sent."""

    model_config = ConfigDict(
        frozen=True, from_attributes=True, json_schema_serialization_defaults_required=True
    )


class SpecificationCheck(BaseModel):
    """The body of POST `validate/specification/`."""

    model_config = ConfigDict(extra="forbid")

    specification: str | dict[str, Any] | None = Field(
        default=None,
        description="The environment YAML (or, with `is_lockfile`, a conda-lock file's text); "
        "without it only the names are checked.",
    )
    is_lockfile: bool = False
    namespace: str | None = Field(
        default=None,
        description="Checked as a name; with `solve`, the namespace to solve in (the caller needs "
        "`environment::solve` there). Default: the caller's primary namespace.",
    )
    environment_name: str | None = None
    solve: bool = Field(
        default=False,
        description="Also solve it (a dry run, as a build would: same channels and policy) when "
        "nothing else is wrong: `solved`, `packages`, and the solver's complaints as problems.",
    )


def _absent(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class Problem(_Answer):
    """One problem: where it is (1-based line and column in the YAML, the path of keys and
    indices in the document) and which field of the request has it. A problem found by solving
    also has `detail` (the solver's own text) and, for an unknown package name, `suggestions`."""

    message: str
    line: int | None
    column: int | None
    path: list[str | int]
    field: str
    suggestions: list[str] | SkipJsonSchema[None] = Field(
        default=None,
        description="Package names of the channels close to an unknown one (at most 3)",
        exclude_if=lambda value: value is None,
        json_schema_extra=_absent,
    )
    detail: str | SkipJsonSchema[None] = Field(
        default=None,
        description="The solver's full explanation (to show folded)",
        exclude_if=lambda value: value is None,
        json_schema_extra=_absent,
    )


class CheckedPackage(_Answer):
    """A package a checked specification would install."""

    name: str
    version: str
    build: str
    channel: str
    requested: bool = Field(description="Named by the specification's conda dependencies")
    requested_as: str | None = Field(description="The dependency entry that names it")


class Validation(_Answer):
    """What `validate/specification/` found: `problems` is empty when `valid`; `name` is the
    environment's name as the specification gives it."""

    valid: bool
    problems: list[Problem]
    name: str | None
    solved: bool = Field(
        default=False, description="A solve was asked for (`solve`) and found a solution"
    )
    packages: list[CheckedPackage] = Field(
        default_factory=list,
        description="What a build would install on the server's platform, when `solved`",
    )
