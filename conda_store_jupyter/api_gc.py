"""What a garbage collection did, or would do (gc.py): `jupyter conda-store gc --json` prints it."""

from __future__ import annotations

import datetime

from pydantic import BaseModel, Field, PrivateAttr


class RetentionPolicy(BaseModel, frozen=True):
    """Which completed builds keep their prefix (CondaStore.keep_builds, keep_days). A build
    either rule keeps is kept; with neither set (both 0), every build is. An environment's
    current build, and a build a kernel runs, are kept whatever the rules say."""

    keep_builds: int = Field(0, ge=0, description="Newest completed builds kept per environment.")
    keep_days: float = Field(0, ge=0, description="Completed builds newer than this are kept.")
    package_cache: bool = Field(True, description="Remove cache entries no prefix uses.")

    @classmethod
    def from_config(cls, config) -> RetentionPolicy:
        """The rules of `CondaStore.keep_builds`, `keep_days` and `gc_package_cache`."""
        return cls(
            keep_builds=config.keep_builds,
            keep_days=config.keep_days,
            package_cache=config.gc_package_cache,
        )

    @property
    def collects_builds(self) -> bool:
        return bool(self.keep_builds or self.keep_days)

    def keeps(self, rank: int, ended_on: datetime.datetime | None, now: datetime.datetime) -> bool:
        """Whether the rules keep the `rank`-th newest completed build of its environment."""
        if not self.collects_builds:
            return True
        if self.keep_builds and rank <= self.keep_builds:
            return True
        age_limit = now - datetime.timedelta(days=self.keep_days)
        return bool(self.keep_days) and (ended_on is None or ended_on >= age_limit)


class CollectedBuild(BaseModel):
    build_id: int
    namespace: str
    environment: str
    size: int = Field(description="Bytes of its prefix as built (shared files included).")
    ended_on: datetime.datetime | None
    _build_dir: str = PrivateAttr("")  # for the collector, not on the wire


class GcReport(BaseModel):
    dry_run: bool
    policy: RetentionPolicy
    builds: list[CollectedBuild] = Field(
        description="Builds whose prefix and large artifacts went (or would go)."
    )
    kept_running: list[CollectedBuild] = Field(
        description="Builds the policy lets go but a running kernel uses: kept until it stops."
    )
    packages: list[str] = Field(description="Package cache entries removed (or to be).")
    package_cache_skipped: str | None = Field(
        None, description="Why the package cache was left alone, if it was."
    )
    freed_bytes: int = Field(
        description="Bytes freed on disk: files whose every hard link went (a prefix's files "
        "that the package cache still holds free nothing until the cache entry goes too)."
    )
    duration_seconds: float
    store_bytes: int | None = Field(None, description="The store's bytes after (not on a dry run).")
    package_cache_bytes: int | None = None


class GcRequest(BaseModel, extra="forbid"):
    """`POST gc/`: a collection now; the retention rules default to the configured ones."""

    dry_run: bool = Field(False, description="Say what would go; remove nothing.")
    keep_builds: int | None = Field(None, ge=0, description="Override CondaStore.keep_builds.")
    keep_days: float | None = Field(None, ge=0, description="Override CondaStore.keep_days.")
