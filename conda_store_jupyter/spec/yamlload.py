"""The hardened YAML loader of specifications and lock files, and size limits of any form.

A safe loader that also refuses aliases (billion laughs), deep nesting (libyaml's composer
recurses on the C stack), duplicate keys and numbers nobody can read; text is measured before it
is parsed, parsed content as its compact JSON. Errors carry the 1-based line and column where
the parser or a rule stopped (`YAMLProblem`), and the composed nodes are kept so that later
problems can be placed in the text too (`load_yaml_nodes`, `node_at`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from ..errors import SpecError
from .text import type_name

# Every form of a specification is held to the same limits: text (YAML) is measured in bytes
# before parsing; an already parsed mapping (a JSON object in a request) as its compact JSON.
MAX_SPEC_BYTES = 1_000_000
# Far more than any specification or lock file needs (they nest 4-5 levels).
MAX_YAML_DEPTH = 32
# No number in a specification or lock file needs more (sizes, timestamps, build numbers); a
# longer one would be an integer Python cannot even print (past 4,300 digits).
MAX_NUMBER_CHARACTERS = 64


class YAMLProblem(SpecError):
    """A `SpecError` found while reading the YAML, with where it is (1-based, or None)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column

    @classmethod
    def at(cls, message: str, mark: yaml.Mark | None) -> YAMLProblem:
        if mark is None:
            return cls(message)
        return cls(message, mark.line + 1, mark.column + 1)


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
                raise YAMLProblem.at(
                    f"Invalid YAML: duplicate key {key!r} ({_where(key_node.start_mark)})",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise YAMLProblem.at(
            f"Invalid YAML: a number of {len(text):,} characters ({_where(node.start_mark)}); "
            f"at most {MAX_NUMBER_CHARACTERS} are allowed",
            node.start_mark,
        )
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_SpecLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def decode(source: str | bytes, what: str, limit: int = MAX_SPEC_BYTES) -> str:
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
        raise SpecError(f"{what} must be text, got {type_name(source)}")
    if len(source) > limit:
        raise SpecError(f"{what} is too large: {len(source):,} bytes, the limit is {limit:,} bytes")
    try:
        return source.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            f"{what} is not valid UTF-8: {error.reason} at byte {error.start}"
        ) from None


def measure(content: Mapping[str, Any], what: str, limit: int) -> None:
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
            raise YAMLProblem.at(
                "YAML aliases are not allowed in a specification "
                f"(alias *{event.anchor} at {_where(event.start_mark)})",
                event.start_mark,
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise YAMLProblem.at(
                    f"Invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels "
                    f"({_where(event.start_mark)})",
                    event.start_mark,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _line_and_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of the character at `position`."""
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def load_yaml_nodes(text: str) -> tuple[Any, yaml.Node | None]:
    """`yaml.safe_load`, refusing aliases, deep nesting and duplicate keys; also returns the
    composed document (its nodes carry where each value is in the text)."""
    try:
        _check_events(text)
        loader = _SpecLoader(text)  # a SafeLoader subclass
        try:
            node = loader.get_single_node()
            return (loader.construct_document(node) if node is not None else None), node
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        problem = error.problem or error.context or "malformed document"
        mark = error.problem_mark or error.context_mark
        where = f" ({_where(mark)})" if mark else ""
        raise YAMLProblem.at(f"Invalid YAML: {problem}{where}", mark) from None
    except yaml.YAMLError as error:  # e.g. a reader error: a control character in the text
        problem = str(error).splitlines()[0]
        position = getattr(error, "position", None)
        if position is None:
            raise YAMLProblem(f"Invalid YAML: {problem}") from None
        raise YAMLProblem(
            f"Invalid YAML: {problem} (character {position})", *_line_and_column(text, position)
        ) from None
    except ValueError as error:  # a scalar YAML types but Python cannot hold: an integer of
        # thousands of digits, a date 2001-13-45
        reason = str(error).split(";")[0]
        raise YAMLProblem(f"Invalid YAML: a value cannot be read ({reason})") from None


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing aliases, deep nesting and duplicate keys."""
    return load_yaml_nodes(text)[0]


def _same_key(key: yaml.Node, wanted: object) -> bool:
    if not isinstance(key, yaml.ScalarNode):
        return False
    if isinstance(wanted, bool):
        return key.value.lower() in (("true", "yes", "on") if wanted else ("false", "no", "off"))
    return key.value == str(wanted)


def node_at(
    root: yaml.Node | None, path: Sequence[str | int], key: bool = False
) -> yaml.Node | None:
    """The node at `path` (mapping keys and list indexes) in a composed document, or the
    deepest one on the way there; with `key`, the last step's key rather than its value."""
    node = root
    for depth, step in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(node, yaml.MappingNode):
            pair = next((pair for pair in node.value if _same_key(pair[0], step)), None)
            if pair is None:
                return node
            node = pair[0] if key and last else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if not 0 <= step < len(node.value):
                return node
            node = node.value[step]
        else:
            return node
    return node
