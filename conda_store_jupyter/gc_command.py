"""`jupyter conda-store gc [--dry-run]`: garbage collection of the store, for its administrator.

It reads the servers' configuration (jupyter_conda_store_config.py, `--config`, and
`--CondaStore.*` flags; `--keep-builds`/`--keep-days` override the retention rules for this run)
and works on the store and its database directly, as the periodic collection does (gc.py): it
needs no server running. It prints what goes (or, with --dry-run, would go) and how much that
frees; `--json` prints the report as JSON (api_gc.GcReport).
"""

from __future__ import annotations

import logging
import sys

from jupyter_core.application import JupyterApp
from traitlets import Bool, TraitError, default

from . import __version__
from .api_gc import CollectedBuild, GcReport
from .config import CondaStore
from .db import open_database
from .errors import CondaStoreError
from .service import CondaStoreService
from .store import human_size


class CondaStoreGc(JupyterApp):
    name = "jupyter-conda-store-gc"
    description = (
        "Collect old builds of the store by its retention rules (CondaStore.keep_builds, "
        "keep_days): their prefixes and archives go, their logs, lock files and specifications "
        "stay (a build can be restored from its lock file). Then remove package cache entries "
        "no prefix uses. --dry-run says what would go, and how much that frees."
    )
    version = __version__
    classes = [CondaStore]

    dry_run = Bool(False, help="Say what would go; remove nothing.").tag(config=True)
    json = Bool(False, help="Print the report as JSON.").tag(config=True)

    flags = {
        **JupyterApp.flags,
        "dry-run": ({"CondaStoreGc": {"dry_run": True}}, "Say what would go; remove nothing."),
        "json": ({"CondaStoreGc": {"json": True}}, "Print the report as JSON."),
    }
    aliases = {
        **JupyterApp.aliases,
        "keep-builds": "CondaStore.keep_builds",
        "keep-days": "CondaStore.keep_days",
    }

    @default("log_level")
    def _default_log_level(self) -> int:
        return logging.WARNING

    @default("config_file_name")
    def _default_config_file_name(self) -> str:
        return "jupyter_conda_store_config"  # the servers' (`jupyter conda-store`)

    def start(self) -> None:
        conda_store = CondaStore(parent=self)
        try:
            engine, sessions = open_database(conda_store.database_url)
        except Exception as error:  # noqa: BLE001 -- said plainly, not as a traceback
            self.log.critical("conda-store gc could not open the database: %s", error)
            self.exit(2)
        try:
            service = CondaStoreService(conda_store, sessions)
            report = service.collector().run(dry_run=self.dry_run)
        finally:
            engine.dispose()
        print(report.model_dump_json(indent=2) if self.json else describe(report))


def _row(build: CollectedBuild) -> str:
    ended = build.ended_on.strftime("%Y-%m-%d %H:%M") if build.ended_on else "-"
    return (
        f"  build {build.build_id:<6} {build.namespace}/{build.environment:<28} "
        f"ended {ended}  {human_size(build.size)}"
    )


def describe(report: GcReport) -> str:
    """The report as people read it."""
    will = "would be" if report.dry_run else "were"
    policy = report.policy
    rules = [
        f"keep the newest {policy.keep_builds} builds of each environment"
        if policy.keep_builds
        else "",
        f"keep builds newer than {policy.keep_days:g} days" if policy.keep_days else "",
    ]
    lines = [
        "retention: "
        + (" or ".join(rule for rule in rules if rule) or "none set (no build is collected)")
        + "; current builds are always kept"
    ]
    lines.append(f"{len(report.builds)} build(s) {will} collected (prefix and archive):")
    lines.extend(_row(build) for build in report.builds)
    if report.kept_running:
        lines.append(f"{len(report.kept_running)} build(s) kept while a kernel runs them:")
        lines.extend(_row(build) for build in report.kept_running)
    if report.package_cache_skipped:
        lines.append(f"package cache left alone: {report.package_cache_skipped}")
    else:
        lines.append(
            f"{len(report.packages)} package cache entr(ies) no prefix uses {will} removed"
        )
    lines.append(
        f"{'would free' if report.dry_run else 'freed'} {human_size(report.freed_bytes)} "
        f"in {report.duration_seconds:.2f} s"
    )
    if report.store_bytes is not None:
        lines.append(
            f"the store now holds {human_size(report.store_bytes)} "
            f"(package cache {human_size(report.package_cache_bytes)})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    try:
        CondaStoreGc.launch_instance(argv if argv is not None else sys.argv[1:])
    except CondaStoreError as error:
        print(f"error: {error.message}", file=sys.stderr)
        sys.exit(1)
    except TraitError as error:  # a bad --keep-builds / --keep-days / --CondaStore.* value
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
