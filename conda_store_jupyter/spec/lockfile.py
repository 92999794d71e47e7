"""Lock-file specifications: a conda-lock file (version 1) used as a specification, validated
with conda-lock's own models, its URLs checked before conda-lock reads them."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic
from packaging.requirements import InvalidRequirement, Requirement

from ..errors import SpecError
from .names import validate_name
from .text import expansion_problem, type_name
from .yamlload import decode, load_yaml, measure

if TYPE_CHECKING:  # imported where used, as in artifacts.py (conda-lock's __init__ is slow)
    from conda_lock.lockfile.v2prelim.models import Lockfile

# Lock files are larger: they list every package for every platform (a big environment locked
# for four platforms takes a few MB).
MAX_LOCKFILE_BYTES = 10_000_000
LOCKFILE_VERSION = 1


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
        measure(source, "lock file", MAX_LOCKFILE_BYTES)
        content: Any = dict(source)
    else:
        content = load_yaml(decode(source, "lock file", MAX_LOCKFILE_BYTES))
    if not isinstance(content, dict):
        raise SpecError(f"not a conda-lock file: expected a mapping, got {type_name(content)}")
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
    measure(content, "lock file", MAX_LOCKFILE_BYTES)
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
    problem = expansion_problem(url)
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
    problem = expansion_problem(url)
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


def locked_pip_label(name: str, version: str) -> str:
    return f"pip package {name} {version} in the lock file"
