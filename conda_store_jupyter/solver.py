"""Solving with py-rattler for one or many platforms, and reading channels through its Gateway.

A lock file is made for every platform in `solve_platforms`, but only the host can be inspected
for virtual packages; the others get the conservative set conda-forge builds assume.

Every Gateway of the product is made by `make_gateway`: see `Gateway` for what it adds to
rattler's (channel errors that name the channel, and recovery from a stale sharded index).
"""

from __future__ import annotations

import asyncio
import datetime
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import rattler
from rattler.exceptions import GatewayError, SolverError

from .errors import CondaStoreError, SpecError

# What a typical machine of each OS provides, for solving other platforms than the host.
_LINUX = [("__unix", "0"), ("__linux", "5.10"), ("__glibc", "2.28")]
_OSX = [("__unix", "0"), ("__osx", "11.0")]
_WIN = [("__win", "0")]
_ARCHSPEC = {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "ppc64le": "ppc64le"}


class ChannelError(CondaStoreError):
    """A channel could not be read: its server is down, answered an error status, or sent
    repodata that cannot be used. The message starts with ``cannot read channel <channel>``.
    Nothing that failed is kept: the next build or request asks the server again."""

    status_code = 400  # what the API has always answered for a channel it cannot use

    def __init__(self, channel: str, reason: str):
        super().__init__(f"cannot read channel {channel}: {reason}")
        self.channel = channel
        self.reason = reason


class SolveFailed(Exception):
    """The solver found no solution: `platform` names where, `message` is the solver's own text."""

    def __init__(self, platform: str, message: str):
        super().__init__(f"cannot solve for {platform}: {message}")
        self.platform = platform
        self.message = message


def host_platform() -> str:
    return str(rattler.Subdir.current())


def validate_platform(platform: str) -> str:
    if platform == "noarch" or platform not in {str(p) for p in rattler.Subdir.all()}:
        raise SpecError(
            f"unknown platform {platform!r}; use names such as linux-64, osx-arm64, win-64"
        )
    return platform


def virtual_packages(platform: str) -> list[rattler.GenericVirtualPackage]:
    if platform == host_platform():
        return [package.into_generic() for package in rattler.VirtualPackage.detect()]
    subdir = rattler.Subdir(platform)
    if subdir.is_linux:
        pairs = list(_LINUX)
    elif subdir.is_osx:
        pairs = list(_OSX)
    elif subdir.is_windows:
        pairs = list(_WIN)
    else:
        pairs = []
    arch = platform.rsplit("-", 1)[-1]
    if arch in _ARCHSPEC:
        pairs.append(("__archspec", "1"))
    return [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name),
            rattler.Version(version),
            rattler.BuildString(_ARCHSPEC.get(arch, "0") if name == "__archspec" else "0"),
        )
        for name, version in pairs
    ]


async def solve(
    channels: Sequence[str],
    specs: Sequence[str],
    platform: str,
    gateway: rattler.Gateway,
    timeout: datetime.timedelta | None = None,
) -> list[rattler.RepoDataRecord]:
    """Solve `specs` for one platform; SolveFailed carries the solver's explanation, and
    ChannelError names a channel that could not be read."""
    if isinstance(gateway, Gateway):
        await gateway.load(channels, [platform, "noarch"])
    try:
        records = await rattler.solve(
            list(channels),
            # Parsed as the specification was validated (lenient, as conda reads `python 3.11`);
            # rattler.solve would parse strings strictly and refuse what validation accepted.
            [rattler.MatchSpec(spec) for spec in specs],
            gateway=gateway,
            platforms=[platform, "noarch"],
            virtual_packages=virtual_packages(platform),
            timeout=timeout,
            timestamp_policy="allow-missing",
        )
    except SolverError as error:
        raise SolveFailed(platform, str(error)) from error
    except GatewayError as error:  # e.g. a shard that the solver asked for, after the index
        raise channel_error(channels, error) from error
    # sort_topologically hands back plain PackageRecords: map them to the solved records.
    by_name = {record.name.normalized: record for record in records}
    return [
        by_name[record.name.normalized]
        for record in rattler.PackageRecord.sort_topologically(records)
    ]


# -- reading channels ---------------------------------------------------------------------------

# How long a Gateway keeps a channel's repodata in memory before asking the disk cache (and, once
# the server's max-age has passed, the server) again. Builds make a Gateway each; this bounds
# how stale the long-lived Gateway of the server's dry-run solve and package search can get.
REFRESH_SECONDS = 60.0

_NOT_MODIFIED = re.compile(r"\b304\b")


def make_gateway(cache_dir: Path) -> Gateway:
    """The product's only way to make a Gateway: repodata cached in `cache_dir`."""
    return Gateway(cache_dir=cache_dir)


class Gateway(rattler.Gateway):
    """rattler's Gateway, made safe to use over HTTP channels for the life of a server.

    * **A stale sharded index is refetched, never a dead end.** rattler (py-rattler <= 0.28.0)
      revalidates a cached ``repodata_shards.msgpack.zst`` whose max-age has passed with a
      conditional GET. When the server's ``304 Not Modified`` does not repeat the validators of
      the cached answer (``python -m http.server`` sends none; RFC 9110 requires only ETag, and
      only if the 200 had one), rattler's cache policy does not match it to the cached answer,
      treats the 304 as new content and fails with "received unexpected status code (304 Not
      Modified)". Its disk cache is unchanged, so every later fetch fails the same way until the
      cache is deleted (conda/rattler#2719). `load` catches that answer, drops the channel's
      cached index for those platforms (shards, addressed by hash, stay) and fetches it again.
      Unsharded ``repodata.json`` is fetched by other code of rattler that handles the 304.
    * **Failures name the channel**: `ChannelError`, not a GatewayError dump.
    * **Repodata kept in memory is refreshed** after `REFRESH_SECONDS`: rattler's Gateway never
      rereads a channel it has read once, which for the server's long-lived Gateway meant
      never.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.refresh_seconds = REFRESH_SECONDS
        self._loaded: dict[tuple[str, str], float] = {}

    async def load(self, sources: Iterable[Any], platforms: Iterable[Any]) -> None:
        """Read the repodata index of every channel in `sources` for `platforms` into memory:
        from the disk cache while fresh, else from the server (revalidating). Raises
        ChannelError naming the first channel that cannot be read."""
        subdirs = [str(platform) for platform in platforms]
        channels = [source for source in sources if isinstance(source, (str, rattler.Channel))]
        await asyncio.gather(*(self._load_channel(channel, subdirs) for channel in channels))

    async def _load_channel(self, channel: str | rattler.Channel, subdirs: list[str]) -> None:
        name = str(channel if isinstance(channel, str) else channel.base_url)
        now = time.monotonic()
        if any(
            now - self._loaded.get((name, subdir), now) >= self.refresh_seconds
            for subdir in subdirs
        ):
            self.clear_repodata_cache(channel, subdirs)  # memory only: the disk cache decides
        try:
            await super().names([channel], subdirs)
        except GatewayError as error:
            if not _NOT_MODIFIED.search(str(error)):
                raise ChannelError(_display(channel), _reason(str(error))) from error
            # rattler#2719: forget the cached index that the 304 cannot be matched to.
            self.clear_repodata_cache(channel, subdirs, clear_disk=True)
            try:
                await super().names([channel], subdirs)
            except GatewayError as again:
                raise ChannelError(_display(channel), _reason(str(again))) from again
        loaded = time.monotonic()
        self._loaded.update({(name, subdir): loaded for subdir in subdirs})

    async def query(self, sources, platforms, specs, *args: Any, **kwargs: Any):  # type: ignore[override]
        sources, platforms = list(sources), list(platforms)
        await self.load(sources, platforms)
        try:
            return await super().query(sources, platforms, specs, *args, **kwargs)
        except GatewayError as error:
            raise channel_error(sources, error) from error

    async def names(self, sources, platforms, *args: Any, **kwargs: Any):  # type: ignore[override]
        sources, platforms = list(sources), list(platforms)
        await self.load(sources, platforms)
        try:
            return await super().names(sources, platforms, *args, **kwargs)
        except GatewayError as error:
            raise channel_error(sources, error) from error


def channel_error(sources: Iterable[Any], error: BaseException) -> ChannelError:
    """`error` (rattler's, about reading `sources`) as a ChannelError naming the channel whose
    URL it mentions, or all of `sources` if it names none of them."""
    channels = [source for source in sources if isinstance(source, (str, rattler.Channel))]
    found = named_channel_error(channels, error)
    if found is not None:
        return found
    return ChannelError(", ".join(_display(channel) for channel in channels), _reason(str(error)))


def named_channel_error(sources: Iterable[Any], error: BaseException) -> ChannelError | None:
    """A ChannelError if `error`'s text names the URL of one of `sources`, else None: for
    errors that may or may not come from a channel, e.g. rattler.install's InstallerError
    (a package download that failed, or a link that did)."""
    text = str(error)
    for channel in sources:
        if isinstance(channel, (str, rattler.Channel)) and _base_url(channel) + "/" in text:
            return ChannelError(_display(channel), _reason(text))
    return None


def _display(channel: str | rattler.Channel) -> str:
    """A channel as the user wrote it (a name, or a URL without the trailing slash)."""
    if isinstance(channel, rattler.Channel):
        return str(channel.base_url).rstrip("/")
    return channel.rstrip("/") if "://" in channel else channel


def _base_url(channel: str | rattler.Channel) -> str:
    try:
        base = (
            channel.base_url
            if isinstance(channel, rattler.Channel)
            else rattler.Channel(channel).base_url
        )
    except Exception:  # noqa: BLE001 -- an unparsable name is matched as written
        return str(channel)
    return str(base).rstrip("/")


def _reason(text: str) -> str:
    """rattler's error text as one line a user can act on: the status or the root cause, and
    the URL it concerns."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    status = re.search(
        r"\((\d{3}) ([^)]*)\) (?:for url \(|when fetching )([^)\s]+?)\)?\.?(?:\s|$)", text
    )
    if status:
        return f"the server answered {status[1]} {status[2]} for {status[3]}"
    url = re.search(r"for url \(([^)\s]+)\)", text)
    causes = [
        line.removeprefix("Caused by:").strip() for line in lines if line.startswith("Caused by:")
    ]
    if url and causes:
        return f"{causes[-1]} (fetching {url[1]})"
    return ": ".join(line.removeprefix("Caused by:").strip() for line in lines) or "no reason given"
