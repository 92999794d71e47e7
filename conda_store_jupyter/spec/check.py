"""Every problem of a specification's text, with where it is: what the panel shows while the
text is edited (`check_specification`), by the same rules `parse_specification` and the store's
policy apply when it is submitted."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import SpecError
from .lockfile import LockfileSpecification, parse_lockfile_specification
from .model import Problem, Specification, read_specification, validate_content
from .names import validate_name
from .policy import SpecPolicy, apply_policy, channel_refusal, named_channel
from .yamlload import YAMLProblem, node_at

__all__ = ["Checked", "Problem", "check_specification", "inspect_specification"]


def _placed(problem: Problem, root: yaml.Node | None) -> Problem:
    """`problem` with the line and column of what its path points at in the text."""
    if problem.line is not None or root is None:
        return problem
    node = node_at(root, problem.path, key=problem.on_key)
    if node is None:
        return problem
    mark = node.start_mark
    return dataclasses.replace(problem, line=mark.line + 1, column=mark.column + 1)


def _policy_problems(
    spec: Specification, content: Mapping[str, Any], policy: SpecPolicy
) -> list[Problem]:
    """What `policy` refuses in `spec`: each refused channel or pip source where it is written,
    then (if nothing else) what `apply_policy` says of the whole (required packages)."""
    problems: list[Problem] = []
    allowed = policy.allowed_channels
    channels = content.get("channels") or []
    for index, channel in enumerate(channels):
        refusal = channel_refusal(channel.strip(), allowed)
        if refusal is not None:
            problems.append(Problem(refusal, path=("channels", index)))
    for index, entry in enumerate(content.get("dependencies") or []):
        if isinstance(entry, str):
            channel = named_channel(" ".join(entry.split()))
            refusal = None if channel is None else channel_refusal(channel, allowed)
            if refusal is not None:
                problems.append(Problem(refusal, path=("dependencies", index)))
        elif isinstance(entry, Mapping):
            for pip_index, requirement in enumerate(entry.get("pip") or []):
                try:
                    policy.pip_sources.check_requirement(" ".join(requirement.split()))
                except SpecError as error:
                    path = ("dependencies", index, "pip", pip_index)
                    problems.append(Problem(error.message, path=path))
    if not problems:
        try:
            apply_policy(spec, policy)
        except SpecError as error:
            problems.append(Problem(error.message))
    return problems


@dataclass(frozen=True)
class Checked:
    """What checking a specification found: the specification it makes (None if any problem),
    the environment name it gives (when that name is valid) and every problem."""

    spec: Specification | LockfileSpecification | None
    name: str | None
    problems: list[Problem]


def check_specification(
    source: str | bytes | Mapping[str, Any],
    *,
    policy: SpecPolicy | None = None,
    is_lockfile: bool = False,
    environment_name: str | None = None,
) -> list[Problem]:
    """Every problem of a specification (or, with `is_lockfile`, of a conda-lock file for
    `environment_name`) and, with a `policy`, of the store's policy over it: the message, the
    1-based line and column where it is when the source is text, its path in the document.
    Empty when `parse_specification` (and `apply_policy`) would accept it."""
    return inspect_specification(
        source, policy=policy, is_lockfile=is_lockfile, environment_name=environment_name
    ).problems


def inspect_specification(
    source: str | bytes | Mapping[str, Any],
    *,
    policy: SpecPolicy | None = None,
    is_lockfile: bool = False,
    environment_name: str | None = None,
) -> Checked:
    """`check_specification`, with the specification and its name. Never raises `SpecError`:
    what `parse_specification` would refuse is a problem here."""
    if is_lockfile:
        return _check_lockfile(source, policy, environment_name)
    try:
        content, root = read_specification(source)
    except SpecError as error:
        return Checked(None, None, [_unplaced(error)])
    spec, problems = validate_content(content)
    if spec is not None and policy is not None:
        problems = _policy_problems(spec, content, policy)
    return Checked(
        None if problems else spec,
        spec.name if spec is not None else _valid_name(content.get("name")),
        [_placed(problem, root) for problem in problems],
    )


def _valid_name(name: object) -> str | None:
    try:
        return validate_name("environment", name)
    except SpecError:
        return None


def _unplaced(error: SpecError) -> Problem:
    if isinstance(error, YAMLProblem):
        return Problem(error.message, line=error.line, column=error.column)
    return Problem(error.message)


def _check_lockfile(
    source: str | bytes | Mapping[str, Any], policy: SpecPolicy | None, name: str | None
) -> Checked:
    name = _valid_name(name)
    try:
        # The name is the request's (a lock file has none); it is checked on its own.
        spec = parse_lockfile_specification(source, name or "lockfile")
        if policy is not None:
            apply_policy(spec, policy)
    except SpecError as error:
        return Checked(None, name, [_unplaced(error)])
    return Checked(spec, name, [])
