"""The store's policy over specifications: default and allowed channels, default, required and
included packages, and where pip packages may come from (`PipSourcePolicy`)."""

from __future__ import annotations

import dataclasses
import fnmatch
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import overload

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import SpecError
from .entries import (
    Refusal,
    check_channel,
    check_conda_dependency,
    check_pip_requirement,
    conda_name,
    match_spec,
    pip_name,
    refused,
)
from .lockfile import LockfileSpecification, locked_pip_label, split_package_url
from .model import Specification
from .text import expansion_problem, unique

_DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org/"


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
                problem = expansion_problem(url)
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
        """Refuse a pip requirement (valid per `check_pip_requirement`) that names a source
        these settings do not allow. Raises `SpecError` naming the entry."""
        what = what or f"pip requirement {entry!r}"
        problem = expansion_problem(entry)
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
        problem = expansion_problem(url)
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
                where = f"CondaStore.{field.name}"
                try:
                    if "channels" in field.name:
                        check_channel(value)
                    elif field.name.startswith("pip_"):
                        check_pip_requirement(value)
                        # The build checks every requirement against the sources again.
                        self.pip_sources.check_requirement(value, f"{where} {value!r}")
                    else:
                        check_conda_dependency(value)
                except Refusal as refusal:
                    raise ValueError(refused(where, refusal).message) from None
                except SpecError as error:
                    raise ValueError(error.message) from None
            object.__setattr__(self, field.name, values)


def _with_policy_packages(
    specified: tuple[str, ...], policy: SpecPolicy, kind: str
) -> tuple[str, ...]:
    """`specified` (conda or pip packages, by `kind`) with the policy's default, included and
    required packages of that kind applied."""
    prefix, name_of = ("", conda_name) if kind == "conda" else ("pip_", pip_name)
    default, required, included = (
        getattr(policy, f"{prefix}{rule}_packages") for rule in ("default", "required", "included")
    )
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
    return unique(packages)


def channel_refusal(channel: str, allowed: tuple[str, ...]) -> str | None:
    """Why `channel` is refused by `allowed` (any channel is fine when it is empty), or None."""
    if not allowed or _channel_key(channel) in {_channel_key(item) for item in allowed}:
        return None
    return f"channel {channel} is not allowed; allowed channels: {', '.join(allowed)}"


def named_channel(dependency: str) -> str | None:
    """The channel a `channel::package` dependency names, if any."""
    channel = match_spec(dependency).channel
    return None if channel is None else channel.base_url


def _check_channels(channels: Iterable[str], allowed: tuple[str, ...]) -> None:
    for channel in channels:
        refusal = channel_refusal(channel, allowed)
        if refusal is not None:
            raise SpecError(refusal)


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
            channel
            for channel in (named_channel(dependency) for dependency in spec.dependencies)
            if channel is not None
        ]
        _check_channels([*spec.channels, *named], policy.allowed_channels)
    check_pip_sources(spec, policy.pip_sources)
    return dataclasses.replace(
        spec,
        channels=spec.channels or policy.channels,
        dependencies=_with_policy_packages(spec.dependencies, policy, "conda"),
        pip=_with_policy_packages(spec.pip, policy, "pip"),
    )
