"""Namespace and environment names: the one rule, as a check with messages and as a pattern."""

from __future__ import annotations

import re

from ..errors import SpecError
from .text import type_name

MAX_NAME_LENGTH = 128
_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]+")
# The whole rule as one regular expression (JSON Schema's `pattern`, with MAX_NAME_LENGTH as
# `maxLength`): what `validate_name` accepts, for clients that check a name before sending it.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._-]*$"


def name_json_schema(kind: str) -> dict[str, object]:
    """The JSON Schema of a `kind` name ("namespace", "environment")."""
    return {
        "type": "string",
        "pattern": NAME_PATTERN,
        "minLength": 1,
        "maxLength": MAX_NAME_LENGTH,
        "description": (
            f"The {kind} name: 1-{MAX_NAME_LENGTH} letters, digits, '.', '_' or '-', "
            "not starting with '.' or '-'."
        ),
    }


def validate_name(kind: str, name: object) -> str:
    """Return `name` if it is a valid `kind` name (e.g. "namespace", "environment").

    Names become directory names in the store, so the rule is strict: 1-128 characters of
    ``[A-Za-z0-9._-]``, not starting with ``.`` or ``-`` (which also rules out ``.`` and ``..``).
    """
    if not isinstance(name, str):
        raise SpecError(f"{kind} name must be a string, got {type_name(name)}")

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
            "it may only contain letters, digits, '.', '_' and '-', "
            f"not {', '.join(map(repr, bad))}"
        )
    if name[0] in ".-":
        raise invalid("it must not start with '.' or '-'")
    return name
