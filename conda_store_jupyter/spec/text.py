"""Small text helpers every part of the specification rules shares."""

from __future__ import annotations

from collections.abc import Iterable


def type_name(value: object) -> str:
    """What a value is, in a message's words ("got a mapping")."""
    names = {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def collapse(text: str) -> str:
    return " ".join(text.split())


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """Drop exact duplicates, keeping the order of first appearance."""
    return tuple(dict.fromkeys(items))


def expansion_problem(text: str) -> str | None:
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
