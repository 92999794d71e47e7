"""The rules of one entry of a specification: a channel, a conda match spec, a pip requirement,
an environment variable. Each check returns the normalised entry or raises `Refusal`, a
predicate to follow where the entry is ("dependencies[1]", "CondaStore.allowed_channels"):
the specification model (model.py) and the store's policy (policy.py) say where."""

from __future__ import annotations

import re

import rattler
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from rattler.exceptions import InvalidChannelError, InvalidMatchSpecError

from ..errors import SpecError
from .text import collapse, expansion_problem, type_name

_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)*")
_CHANNEL_SCHEMES = ("http://", "https://", "file://")
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Refusal(ValueError):
    """What is wrong with an entry, as a predicate to follow where the entry is: "'x' is not a
    valid channel", "must be a string, got int", or ": only one..." (joined without a space)."""


def phrase(where: str, predicate: str) -> str:
    """The message of a problem: where it is, then what is wrong there."""
    return f"{where}{'' if predicate.startswith(':') else ' '}{predicate}"


def refused(where: str, refusal: Refusal) -> SpecError:
    """The `SpecError` of a refusal at `where`."""
    return SpecError(phrase(where, str(refusal)))


def check_channel(channel: object) -> str:
    if not isinstance(channel, str):
        raise Refusal(f"must be a string (a channel name or URL), got {type_name(channel)}")
    channel = channel.strip()
    if channel.startswith(_CHANNEL_SCHEMES):
        if any(char.isspace() or ord(char) < 32 for char in channel):
            raise Refusal(f"{channel!r} is not a valid channel URL")
        try:
            rattler.Channel(channel)
        except InvalidChannelError as error:
            raise Refusal(f"{channel!r} is not a valid channel URL: {error}") from None
    elif "://" in channel:
        raise Refusal(
            f"{channel!r} has an unsupported URL scheme; use one of "
            f"{', '.join(scheme.rstrip('/') for scheme in _CHANNEL_SCHEMES)}"
        )
    elif not _CHANNEL_NAME.fullmatch(channel) or ".." in channel.split("/"):
        raise Refusal(
            f"{channel!r} is not a valid channel: expected a name such as 'conda-forge' "
            "(letters, digits, '.', '_', '-', '/' for labels) or an http(s):// or file:// URL"
        )
    return channel


def match_spec(entry: str) -> rattler.MatchSpec:
    try:
        return rattler.MatchSpec(entry)
    except InvalidMatchSpecError as error:
        raise Refusal(f"{entry!r} is not a valid conda package spec: {error}") from None


def check_conda_dependency(entry: str) -> str:
    entry = collapse(entry)
    match_spec(entry)
    return entry


def conda_name(entry: str) -> str:
    try:
        return match_spec(entry).name.normalized
    except Refusal as refusal:
        raise refused("dependency", refusal) from None


def pip_name(entry: str) -> str:
    return canonicalize_name(Requirement(entry).name)


def _looks_like_path(entry: str) -> bool:
    return entry.startswith((".", "/", "~")) or ("/" in entry and "://" not in entry)


def check_pip_requirement(entry: object) -> str:
    """A pip requirement as PEP 508 writes it (``name``, ``name>=1``, ``name @ https://...``),
    which uv reads as that one requirement and nothing else. Where packages may come from (an
    index, a direct URL's host, local files, VCS) is the policy's: `PipSourcePolicy.check`."""
    if not isinstance(entry, str):
        raise Refusal(f"must be a string (a pip requirement), got {type_name(entry)}")
    entry = collapse(entry)
    problem = expansion_problem(entry)
    if problem is not None:
        raise Refusal(f"{entry!r} {problem}")
    try:
        Requirement(entry)
    except InvalidRequirement as error:
        if "://" in entry.split(" ", 1)[0]:
            raise Refusal(
                f"{entry!r} is a bare URL, not a pip requirement: write 'name @ URL' "
                "(where the administrator allows that URL)"
            ) from None
        if _looks_like_path(entry):
            raise Refusal(
                f"{entry!r} is a local path, not a pip requirement: name the package "
                "(e.g. 'name>=1.0'), or 'name @ URL' where the administrator allows that URL"
            ) from None
        reason = str(error).splitlines()[0]  # the rest is an ASCII-art pointer
        raise Refusal(f"{entry!r} is not a valid pip requirement: {reason}") from None
    return entry


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


def check_variable_name(name: object) -> str:
    problem = variable_name_problem(name)
    if problem is not None:
        raise Refusal(f": {name!r} {problem}")
    return name  # type: ignore[return-value]


def check_variable_value(value: object) -> str:
    """Values are plain text, never evaluated (see kernels.py); numbers and booleans are kept
    as YAML spells them."""
    if isinstance(value, bool):  # before int: bool is an int; keep YAML's spelling
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        raise Refusal(f"must be a string, number or boolean, got {type_name(value)}")
    if "\0" in text:
        raise Refusal("must not contain a NUL character")
    return text
