"""Parse, validate, normalise and hash specifications (conda environment YAML or conda-lock files).

A specification is identified by the sha256 of its canonical JSON, so two texts that differ only
in formatting, comments or key order are the same specification. Policies (default and allowed
channels, default/required/included packages) are applied before hashing: the stored
specification says exactly what was built.

Everything here is pure: parsing only, no I/O, no solving.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
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

MAX_SPEC_BYTES = 1_000_000
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


def _validate_pip_requirement(entry: object, where: str) -> str:
    if not isinstance(entry, str):
        raise SpecError(f"{where} must be a string (a pip requirement), got {_type_name(entry)}")
    entry = _collapse(entry)
    try:
        Requirement(entry)
    except InvalidRequirement as error:
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


def _parse_variables(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    variables = spec.get("variables")
    if variables is None:
        return ()
    if not isinstance(variables, dict):
        raise SpecError(
            f"variables must be a mapping of names to values, got {_type_name(variables)}"
        )
    result: dict[str, str] = {}
    for key, value in variables.items():
        if not isinstance(key, str) or not _ENV_VAR_NAME.fullmatch(key):
            raise SpecError(
                f"variables: {key!r} is not a valid environment variable name "
                "(letters, digits and '_', not starting with a digit)"
            )
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
        content: Any = source
    else:
        content = _load_yaml(_decode(source, "specification"))
    if not isinstance(content, Mapping):
        raise SpecError(
            "specification must be a mapping (name, channels, dependencies...), "
            f"got {_type_name(content)}"
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
    try:
        lockfile = lockfile_v1_to_v2(LockfileV1.model_validate(content))
    except pydantic.ValidationError as error:
        raise SpecError(
            f"invalid conda-lock file: {_validation_problem(error, content)}"
        ) from None
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
    return LockfileSpecification(
        name=name,
        lockfile=content,
        platforms=tuple(lockfile.metadata.platforms),
        description=description,
    )


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def check_locked_pip_package(name: str, version: str, url: str, sha256: str | None) -> None:
    """Check that a lock file's pip entry pins exactly one file that uv can install as
    ``name @ url --hash=sha256:...`` (see `pip.install_locked_pip_packages`): a valid package
    name, an absolute URL without spaces, a sha256 of 64 hex digits if any. Raises `SpecError`
    naming the package."""
    what = f"pip package {name} {version} in the lock file"
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


@dataclass(frozen=True)
class SpecPolicy:
    """What the store adds to or forbids in specifications (conda-store's settings).

    - `channels`: used when a specification names none.
    - `allowed_channels`: when non-empty, any other channel is refused.
    - `default_packages`: added when the specification has no conda dependencies.
    - `required_packages`: must be named by the specification (by package name).
    - `included_packages`: appended unless the specification names a package of that name.
    - `pip_*`: the same for the ``pip:`` section.
    """

    channels: tuple[str, ...] = ()
    allowed_channels: tuple[str, ...] = ()
    default_packages: tuple[str, ...] = ()
    required_packages: tuple[str, ...] = ()
    included_packages: tuple[str, ...] = ()
    pip_default_packages: tuple[str, ...] = ()
    pip_required_packages: tuple[str, ...] = ()
    pip_included_packages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Configuration mistakes surface at start, not as a user's failed build.
        for field in dataclasses.fields(self):
            values = tuple(getattr(self, field.name))
            for value in values:
                try:
                    if "channels" in field.name:
                        _validate_channel(value, f"CondaStore.{field.name}")
                    elif field.name.startswith("pip_"):
                        _validate_pip_requirement(value, f"CondaStore.{field.name}")
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

    A lock file is installed as is: only its channels are checked.
    """
    if isinstance(spec, LockfileSpecification):
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
