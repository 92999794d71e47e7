"""Channels: the ones in use, a dry-run solve, and package names for completion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rattler
from rattler.exceptions import GatewayError, InvalidChannelError

from .. import api_models
from ..errors import SpecError
from ..solver import SolveFailed, host_platform, make_gateway, solve
from ..spec import apply_policy, check_channels_allowed, parse_specification
from .base import ServiceBase


class SearchMixin(ServiceBase):
    def channels(self) -> list[api_models.Channel]:
        return [
            api_models.Channel(id=index, name=channel)
            for index, channel in enumerate(self.config.channels, 1)
        ]

    @property
    def gateway(self) -> rattler.Gateway:
        if self._gateway is None:
            self._gateway = make_gateway(self.layout.repodata_cache)
        return self._gateway

    async def dry_run_solve(
        self, channels: Sequence[str], conda: Sequence[str], pip: Sequence[str]
    ) -> list[api_models.SolvedPackage]:
        """Solve without building (coroutine: rattler solves off the event loop)."""
        document: dict[str, Any] = {"name": "dry-run", "dependencies": list(conda)}
        if channels:
            document["channels"] = list(channels)
        if pip:
            document["dependencies"].append({"pip": list(pip)})
        spec = apply_policy(parse_specification(document), self.policy)
        try:
            records = await solve(spec.channels, spec.dependencies, host_platform(), self.gateway)
        except SolveFailed as error:
            raise SpecError(f"cannot solve for {error.platform}: {error.message}") from None
        except (GatewayError, InvalidChannelError) as error:  # unreachable or malformed channel
            raise channel_error(spec.channels, error) from None
        return [
            api_models.SolvedPackage(
                name=r.name.normalized,
                version=str(r.version),
                build=str(r.build),
                channel=str(r.channel or ""),
                subdir=r.subdir,
                url=str(r.url),
            )
            for r in records
        ]

    async def search_packages(
        self, search: str, channels: Sequence[str] = ()
    ) -> list[api_models.PackageName]:
        """Package names in the channels containing `search` (prefix matches first)."""
        check_channels_allowed(channels, self.policy)
        sources = list(channels or self.config.channels)
        try:
            names = await self.gateway.names(sources, [host_platform(), "noarch"])
        except (GatewayError, InvalidChannelError) as error:  # unreachable or malformed channel
            raise channel_error(sources, error) from None
        needle = search.lower()
        found = sorted(
            {str(name.normalized) for name in names if needle in name.normalized},
            key=lambda name: (not name.startswith(needle), name),
        )
        return [api_models.PackageName(name=name) for name in found]


def channel_error(channels: Sequence[str], error: Exception) -> SpecError:
    reason = ": ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return SpecError(f"cannot read channel(s) {', '.join(channels)}: {reason}")
