"""The solver's complaints in a user's words, at the lines of the specification they concern.

rattler explains a failed solve as a tree ("The following packages are incompatible / ├─ a *
can be installed... / └─ b * cannot be installed because..."). Here that text (multi-line, or
folded onto one line as a build's `status_info` keeps it) becomes problems: one per dependency
entry the failure involves, each placed at the entry's line and column, with a short plain
message naming the packages, and the solver's own text as `detail`. Unknown package names get
the closest names of the channels as `suggestions`.

Pure: the channels' names and versions are given by the caller (service/check.py reads them).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rattler
import yaml

from .model import read_specification
from .text import collapse
from .yamlload import node_at

MAX_SUGGESTIONS = 3
MAX_REASONS = 4
_HEADER = re.compile(r"^Cannot solve the request because of:\s*", re.IGNORECASE)
_MISSING = re.compile(r"^No candidates were found for (?P<spec>.+?)\.?$")
_ROOT = re.compile(
    r"^(?P<spec>[^,]+?) (?:can be installed with any of the following options"
    r"|cannot be installed because .*?):?$"
)
_REQUIRES = re.compile(r"^(?P<candidate>.+?) would require:?$")
_DEPENDENCY = re.compile(r"^(?P<spec>.+?), (?P<rest>(?:for )?which .*)$")


# -- where each dependency is ---------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A conda dependency as the specification writes it, and where."""

    text: str
    name: str
    index: int
    line: int | None = None
    column: int | None = None

    @property
    def path(self) -> list[str | int]:
        return ["dependencies", self.index]


def dependency_entries(source: str | bytes | Mapping[str, Any]) -> list[Entry]:
    """Every conda dependency of a specification (valid or not, as far as it reads), with its
    1-based line and column when `source` is text."""
    try:
        content, root = read_specification(source)
    except Exception:  # noqa: BLE001 -- nothing can be placed in a text that does not read
        return []
    dependencies = content.get("dependencies")
    if not isinstance(dependencies, list):
        return []
    entries = []
    for index, entry in enumerate(dependencies):
        if not isinstance(entry, str):
            continue
        text = collapse(entry)
        name = package_name(text)
        if name is None:
            continue
        line = column = None
        node = node_at(root, ("dependencies", index)) if root is not None else None
        if isinstance(node, yaml.ScalarNode):
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        entries.append(Entry(text, name, index, line, column))
    return entries


def package_name(spec: str) -> str | None:
    try:
        return rattler.MatchSpec(spec).name.normalized
    except Exception:  # noqa: BLE001 -- not a match spec: nothing to name
        return None


def stored_specification_text(spec: Mapping[str, Any]) -> str:
    """A stored specification as the panel shows it (name, channels, dependencies, variables;
    lists indented, one entry a line): the text a build's problems are placed in."""
    ordered: dict[str, Any] = {"name": spec.get("name")}
    if spec.get("description"):
        ordered["description"] = spec["description"]
    if spec.get("channels"):
        ordered["channels"] = spec["channels"]
    ordered["dependencies"] = spec.get("dependencies") or []
    if spec.get("variables"):
        ordered["variables"] = spec["variables"]
    ordered.update({key: value for key, value in spec.items() if key not in ordered})
    return yaml.dump(
        ordered, Dumper=_IndentedDumper, sort_keys=False, allow_unicode=True, width=2**20
    )


class _IndentedDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


# -- reading the solver's text ----------------------------------------------------------------


@dataclass
class Root:
    """A requested spec at the top of the solver's tree, and what its subtree says."""

    spec: str
    requires: list[tuple[str, str]] = field(default_factory=list)  # (candidate, dependency)
    unavailable: list[str] = field(default_factory=list)  # "for which no candidates were found"


@dataclass
class Report:
    missing: list[str] = field(default_factory=list)
    roots: list[Root] = field(default_factory=list)


def read_solver_message(message: str) -> Report:
    """The roots, requirements and dead ends of rattler's explanation (one line or many)."""
    report = Report()
    candidate: str | None = None
    for raw in re.split(r"[├└]─|\n", message):
        text = _HEADER.sub("", raw.replace("│", " ").strip()).strip()
        if not text or text.lower().startswith("the following packages are incompatible"):
            continue
        missing = _MISSING.match(text)
        if missing:
            report.missing.append(missing["spec"].strip())
            continue
        dependency = _DEPENDENCY.match(text)
        if dependency and report.roots:
            spec, rest = dependency["spec"].strip(), dependency["rest"]
            if rest.startswith("for which no candidates"):
                report.roots[-1].unavailable.append(spec)
            if candidate is not None and not rest.startswith("conflicts"):
                report.roots[-1].requires.append((candidate, spec))
                candidate = None
            continue
        requires = _REQUIRES.match(text)
        if requires and report.roots:
            candidate = requires["candidate"].strip()
            continue
        root = _ROOT.match(text)
        if root:
            report.roots.append(Root(root["spec"].strip()))
            candidate = None
    return report


# -- problems ---------------------------------------------------------------------------------


def suggest(name: str, names: Iterable[str]) -> list[str]:
    """The channels' names closest to a misspelt one (at most MAX_SUGGESTIONS)."""
    return difflib.get_close_matches(name.lower(), sorted(set(names)), n=MAX_SUGGESTIONS)


def problem(
    message: str,
    entry: Entry | None,
    detail: str | None = None,
    suggestions: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A problem in the shape of `validate/specification/`'s (see spec.check.Problem)."""
    found: dict[str, Any] = {
        "message": message,
        "line": entry.line if entry else None,
        "column": entry.column if entry else None,
        "path": entry.path if entry else [],
        "field": "specification",
    }
    if suggestions is not None:
        found["suggestions"] = list(suggestions)
    if detail:
        found["detail"] = detail
    return found


def find_entry(entries: Sequence[Entry], spec: str) -> Entry | None:
    """The entry the solver means by `spec` ("numpy >=2", "nupmy *"): the same text, else the
    same package name."""
    spec = collapse(spec)
    for entry in entries:
        if entry.text == spec or _canonical(entry.text) == _canonical(spec):
            return entry
    name = package_name(spec.removesuffix(" *"))
    return next((entry for entry in entries if entry.name == name), None)


def _canonical(spec: str) -> str:
    try:
        return str(rattler.MatchSpec(spec.removesuffix(" *")))
    except Exception:  # noqa: BLE001
        return spec


def unknown_name_problem(
    entry: Entry | None, name: str, names: Iterable[str], detail: str | None = None
) -> dict[str, Any]:
    return problem(
        f"no package named '{name}' in the channels", entry, detail, suggest(name, names)
    )


def unsatisfiable_problem(
    entry: Entry | None, spec: str, versions: Sequence[str], detail: str | None = None
) -> dict[str, Any]:
    name = package_name(spec) or spec
    if versions:
        have = f"the channels have {name} {', '.join(_few(versions))}"
    else:
        have = f"the channels have no {name} for this platform"
    return problem(f"'{spec}' cannot be satisfied: {have}", entry, detail)


def _few(versions: Sequence[str], limit: int = 8) -> list[str]:
    ordered = sorted(set(versions), key=_version_key)
    return ordered if len(ordered) <= limit else ["…", *ordered[-limit:]]


def _version_key(version: str) -> Any:
    try:
        return (0, rattler.Version(version))
    except Exception:  # noqa: BLE001
        return (1, version)


def _reason(candidate: str, dependency: str) -> str:
    return f"{candidate} requires {_shown(dependency)}"


def solver_problems(
    message: str,
    entries: Sequence[Entry],
    *,
    names: Iterable[str] | None = None,
    versions: Mapping[str, Sequence[str]] | None = None,
    platform: str | None = None,
) -> list[dict[str, Any]]:
    """The problems a failed solve's `message` stands for, placed at `entries`. `names`: every
    package name of the channels (for suggestions; None if unknown); `versions`: the versions the
    channels have of each requested name."""
    detail = message.strip()
    names = set(names) if names is not None else None
    versions = versions or {}
    on = f" on {platform}" if platform else ""
    report = read_solver_message(message)
    problems = []
    for spec in report.missing:
        entry = find_entry(entries, spec)
        name = package_name(spec.removesuffix(" *")) or spec
        shown = spec.removesuffix(" *")
        if names is not None and name not in names and not name.startswith("__"):
            problems.append(unknown_name_problem(entry, name, names, detail))
        elif name.startswith("__"):
            problems.append(problem(f"'{shown}' is not provided by the machine{on}", entry, detail))
        else:
            problems.append(unsatisfiable_problem(entry, shown, versions.get(name, ()), detail))
    if report.roots:
        problems += _conflict_problems(report.roots, entries, detail, on)
    if not problems:
        problems.append(problem(f"the solver found no solution{on}", None, detail))
    return sorted(_dedupe(problems), key=_in_text_order)


def _in_text_order(found: dict[str, Any]) -> tuple[bool, int, int]:
    return (found["line"] is None, found["line"] or 0, found["column"] or 0)


def _conflict_problems(
    roots: Sequence[Root], entries: Sequence[Entry], detail: str, on: str
) -> list[dict[str, Any]]:
    """One problem for each entry the tree involves: its roots, and requested packages whose
    versions leave nothing for a requirement below them."""
    involved: list[tuple[str, Entry | None]] = [
        (_shown(root.spec), find_entry(entries, root.spec)) for root in roots
    ]
    dead_ends = [spec for root in roots for spec in root.unavailable]
    for spec in dead_ends:
        name = package_name(spec)
        entry = next((entry for entry in entries if entry.name == name), None)
        if entry is not None:
            involved.append((entry.text, entry))
    involved = list(dict.fromkeys(involved))
    reasons = [_reason(*pair) for root in roots for pair in root.requires]
    reasons = list(dict.fromkeys(reasons))[:MAX_REASONS]
    because = f": {'; '.join(reasons)}" if reasons else ""
    if len(involved) == 1:
        spec, entry = involved[0]
        dead = ", ".join(dict.fromkeys(dead_ends))
        tail = f" (nothing in the channels satisfies {dead})" if dead else ""
        return [problem(f"'{spec}' cannot be installed{on}{because}{tail}", entry, detail)]
    problems = []
    for spec, entry in involved:
        others = " and ".join(f"'{other}'" for other, _ in involved if other != spec)
        message = f"'{spec}' cannot be installed together with {others}{on}{because}"
        problems.append(problem(message, entry, detail))
    return problems


def _shown(spec: str) -> str:
    return spec.removesuffix(" *")


def _dedupe(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for found in problems:
        key = (found["message"], found["line"], tuple(found["path"]))
        if key not in seen:
            seen.add(key)
            kept.append(found)
    return kept
