"""A kernel for every environment whose current build can run one, written as ordinary kernel
specs so that JupyterLab, `jupyter kernelspec list`, nbconvert and papermill all see them.

The store is the truth; the kernels directory follows it. `KernelRegistry.sync()` computes the
kernel specs the store calls for and rewrites only what differs: it never touches a kernel spec
it did not write (each carries a `conda_store` marker naming this store). Rolling back rewrites
the spec to run the rolled-back build, deleting an environment removes its kernel, and a server
start reconciles whatever changed while it was down.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jupyter_core.paths import jupyter_data_dir
from sqlalchemy.orm import Session, sessionmaker
from traitlets import Bool, Float, List, Unicode, default
from traitlets.config import LoggingConfigurable

from .db import Build, BuildStatus, Environment, Namespace, select_builds
from .kernel_listing import KernelListing, ListingBoard, PublishedKernel
from .loops import BackgroundLoop
from .spec import variable_name_problem
from .store import StoreLayout

MARKER = "conda_store"
MANAGED_BY = "conda-store-jupyter"

# Activation as `conda activate` does it for a kernel: the environment's variables, CONDA_PREFIX
# and PATH, then the environment's activate.d scripts, then exec the kernel (so signals reach it
# directly). Written beside each kernel.json and named through {resource_dir}, which keeps the
# specs small: a listing of a thousand of them stays cheap to read and to send.
#
# The environment's `variables` are not in kernel.json's `env`: jupyter_client would expand
# `$NAME`s in them from the server's environment, and bash would see them as it starts (it runs
# $BASH_ENV, imports functions, reads SHELLOPTS...). They are in VARIABLES_FILE beside the script,
# as NUL-terminated NAME=value entries, which the script exports after bash has started with
# `export -- "$entry"`: a value is assigned as it is, never evaluated. Names are checked
# (`spec.variable_name_problem`) when the specification is submitted and again here.
ACTIVATE_SCRIPT = "conda-store-activate.sh"
VARIABLES_FILE = "conda-store-variables"
ACTIVATE_AND_EXEC = """#!/bin/bash
# Written by conda-store-jupyter: activate a conda environment, then run the kernel in it.
# $1 is the environment's link (envs/<name>), which moves to each new current build: resolved
# once, here, so that a kernel (re)started runs the current build, and runs it to the end
# whatever happens to the link meanwhile. $2 is the kernel's connection file: beside it goes
# the prefix this kernel runs (`<connection file>.conda-store-prefix`, see RUNNING_PREFIX).
link="$1"; connection_file="$2"; shift 2
if target=$(readlink -- "$link"); then
  case "$target" in
    /*) ;;
    *) target="${link%/*}/$target" ;;
  esac
else
  target="$link"
fi
# -L: `envs/../<build dir>` read as a path, not through the store's own symlinks.
if ! prefix=$(CDPATH='' cd -L -- "$target" 2>/dev/null && pwd -L) || [ -z "$prefix" ]; then
  echo "conda-store: $link: the environment has no current build" >&2
  exit 1
fi
arguments=()
for argument in "$@"; do
  case "$argument" in
    "$link" | "$link"/*) arguments+=("$prefix${argument#"$link"}") ;;
    *) arguments+=("$argument") ;;
  esac
done
set -- "${arguments[@]}"
# A shared lock on the prefix for as long as the kernel lives (fd 9 stays open across exec):
# the store removes no prefix a kernel holds so (StoreLayout.remove_unless_running).
if [ -d "$prefix/conda-meta" ] && command -v flock >/dev/null 2>&1; then
  exec 9<"$prefix/conda-meta" && flock -s -w 30 9
fi
if [ -n "$connection_file" ]; then
  record="${connection_file%.json}.conda-store-prefix"
  { printf '%s\\n' "$prefix" > "$record.tmp" && mv -f -- "$record.tmp" "$record"; } 2>/dev/null
fi
variables="${BASH_SOURCE[0]%/*}/conda-store-variables"
if [ -f "$variables" ]; then
  while IFS= read -r -d '' entry; do
    export -- "$entry"
  done < "$variables"
fi
export CONDA_PREFIX="$prefix" CONDA_DEFAULT_ENV="$prefix" CONDA_SHLVL=1 PATH="$prefix/bin:$PATH"
for script in "$prefix"/etc/conda/activate.d/*.sh; do
  [ -f "$script" ] && . "$script"
done
exec "$@"
"""
# Beside a kernel's connection file, the prefix its activation script resolved the link to.
RUNNING_PREFIX = ".conda-store-prefix"
# What a kernel is made from: (environment id, its name, its namespace, build id, build dir,
# specification id), for an environment's kernel and a build's own alike.
KERNEL_COLUMNS = (
    Environment.id,
    Environment.name,
    Namespace.name,
    Build.id,
    Build.build_dir,
    Build.specification_id,
)
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


@dataclass
class WantedKernel:
    """One kernel spec the store calls for."""

    name: str
    spec: dict[str, Any]
    resources: Path | None = None  # a kernel's own directory (logos) inside the prefix
    files: dict[str, bytes] = field(default_factory=dict)


def following_link(argument: str, prefix: Path, link: Path) -> str:
    """An argument of a shipped kernel spec with the build's prefix in it (conda writes absolute
    paths into installed files) names the environment's link instead."""
    for root in dict.fromkeys((str(prefix), os.path.realpath(prefix))):
        if argument == root or argument.startswith(root + "/"):
            return str(link) + argument[len(root) :]
    return argument


def running_prefix_file(connection_file: str) -> Path:
    """Where the activation script records the prefix a kernel runs (see ACTIVATE_AND_EXEC)."""
    return Path(connection_file.removesuffix(".json") + RUNNING_PREFIX)


def can_run_kernel(prefix: Path) -> list[Path]:
    """The kernel spec directories an environment ships (ipykernel ships python3's)."""
    kernels = prefix / "share" / "jupyter" / "kernels"
    try:
        return sorted(path for path in kernels.iterdir() if (path / "kernel.json").is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


class KernelRegistry(BackgroundLoop, LoggingConfigurable):
    """Keeps one kernel spec per environment (and per extra kernel an environment ships)."""

    enabled = Bool(True, help="Register a kernel for every environment that can run one.").tag(
        config=True
    )
    name_prefix = Unicode(
        "conda-store-", help="Prefix of the kernel names (kernel names are lowercase)."
    ).tag(config=True)
    namespaces = List(
        Unicode(),
        default_value=["*"],
        help="Namespaces (glob patterns) whose environments get kernels.",
    ).tag(config=True)
    kernels_dir = Unicode(
        help="Where the kernel specs are written. Default: the user's Jupyter data dir, where "
        "every Jupyter tool looks; for a shared store (a JupyterHub service, Celery workers), "
        "the store's .kernels/, where every user's server reads them."
    ).tag(config=True)
    poll_interval = Float(
        1.0, help="Seconds between checks of the store for changes made by other processes."
    ).tag(config=True)
    display_name_template = Unicode(
        "{environment} ({namespace})",
        help="Display name of a kernel (short: the launcher shows it under the kernel's logo); "
        "{environment}, {namespace} and {language} are replaced. An environment's kernels other "
        "than its Python one get their language appended when the template does not name it.",
    ).tag(config=True)

    @default("kernels_dir")
    def _default_kernels_dir(self) -> str:
        if self.shared_store:
            return str(self.layout.kernels)
        return os.path.join(jupyter_data_dir(), "kernels")

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        store_dir: str,
        shared_store: bool = False,
        **kwargs: Any,
    ):
        self.shared_store = shared_store
        self.layout = StoreLayout(store_dir)
        super().__init__(**kwargs)
        self.sessions = sessions
        self.store_dir = str(Path(store_dir).resolve())
        self._fingerprint: tuple[Any, ...] | None = None
        self.board = ListingBoard()  # what was written, for users' servers (kernel_listing.py)

    # -- lifecycle: a BackgroundLoop that syncs when woken and every `poll_interval` ---------
    loop_name = "conda-store kernel registry"
    tick_at_start = False  # `setup` has just synced

    async def start(self) -> None:
        self.board.attach(asyncio.get_running_loop())
        if self.enabled:
            await super().start()

    async def setup(self) -> None:
        await asyncio.to_thread(self.sync)

    async def tick(self) -> None:
        """Sync if the store changed: called when a build ends or an environment changes here
        (`wake`, thread-safe), and every `poll_interval` for changes made by other processes."""
        await asyncio.to_thread(self.sync_if_changed)

    # -- sync -------------------------------------------------------------------------------
    def _store_fingerprint(self) -> tuple[Any, ...]:
        with self.sessions() as session:
            environments = session.execute(
                sa.select(
                    sa.func.count(Environment.id),
                    sa.func.max(Environment.updated_on),
                    sa.func.max(Environment.current_build_id),
                )
            ).one()
            pinned = session.execute(  # kernels of one build: asked for, restored, collected
                sa.select(sa.func.count(Build.id), sa.func.max(Build.kernel_requested_on)).where(
                    Build.kernel_requested_on.is_not(None),
                    Build.status == BuildStatus.COMPLETED,
                    Build.collected_on.is_(None),
                )
            ).one()
            return (*environments, *pinned)

    def sync_if_changed(self) -> None:
        """Cheap check first: environments change their updated_on whenever their current
        build changes or they are deleted."""
        fingerprint = self._store_fingerprint()
        if fingerprint != self._fingerprint:
            self.sync()
            self._fingerprint = fingerprint

    def wanted(self) -> dict[str, WantedKernel]:
        with self.sessions() as session:
            rows = session.execute(
                select_builds(*KERNEL_COLUMNS)
                .where(
                    Build.id == Environment.current_build_id,
                    Build.status == BuildStatus.COMPLETED,
                )
                .order_by(Environment.id)
            ).all()
            pinned = self._pinned_builds(session)
            spec_ids = {row[5] for row in [*rows, *pinned]}
            variables = self._variables(session, spec_ids, self.log)
        wanted: dict[str, WantedKernel] = {}
        # Each environment's own kernel, then those of builds asked for (`on_build`): a build
        # can be both, its environment's current one and asked for, and then has both kernels.
        for on_build, row in [*((False, row) for row in rows), *((True, row) for row in pinned)]:
            environment_id, environment, namespace, build_id, build_dir, spec_id = row
            if not build_dir or not self._registered_namespace(namespace):
                continue
            prefix = self.layout.build_prefix(namespace, build_dir)
            # A kernel of one build runs its prefix itself, not the environment's link.
            link = prefix if on_build else self.layout.environment_link(namespace, environment)
            base = self.kernel_name(namespace, environment, build_id if on_build else None)
            if base in wanted:  # two names that differ only in case or unsafe characters
                base = (
                    f"{base}-{hashlib.sha1(f'{namespace}/{environment}'.encode()).hexdigest()[:6]}"
                )
            for kernel_dir in can_run_kernel(prefix):
                name = (
                    base
                    if kernel_dir.name == "python3"
                    else f"{base}-{_UNSAFE.sub('-', kernel_dir.name.lower())}"
                )
                wanted[name] = self._kernel(
                    kernel_dir,
                    prefix,
                    link,
                    name,
                    metadata={
                        "namespace": namespace,
                        "environment": environment,
                        "environment_id": environment_id,
                        "build_id": build_id,
                        **({"pinned": True} if on_build else {}),
                    },
                    variables=variables.get(spec_id, {}),
                )
        return wanted

    def kernel_name(self, namespace: str, environment: str, build_id: int | None = None) -> str:
        """The kernel spec's name of an environment (it runs the current build), or of one of
        its builds (`build_id`: it runs that build's prefix, see `request_build_kernel`). Two
        environments whose names differ only in case or unsafe characters: the second one's
        gets a hash appended (`wanted`)."""
        name = _UNSAFE.sub("-", f"{self.name_prefix}{namespace}--{environment}".lower())
        return name if build_id is None else f"{name}--build-{build_id}"

    @staticmethod
    def _pinned_builds(session: Session) -> list[Any]:
        """(environment id, name, namespace, build id, build dir, specification id) of the
        builds whose own kernel was asked for, that have their prefix."""
        return session.execute(
            select_builds(*KERNEL_COLUMNS)
            .where(
                Build.kernel_requested_on.is_not(None),
                Build.status == BuildStatus.COMPLETED,
                Build.collected_on.is_(None),
            )
            .order_by(Build.id)
        ).all()

    def _registered_namespace(self, namespace: str) -> bool:
        import fnmatch

        return any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.namespaces)

    @staticmethod
    def _variables(
        session: Session, spec_ids: set[int], log: Any = None
    ) -> dict[int, dict[str, str]]:
        """The variables of each specification, without any name a kernel may not be given (a
        specification stored before a rule existed keeps its text, not the variable)."""
        from .db import Specification

        if not spec_ids:
            return {}
        result = {}
        for spec_id, spec in session.execute(
            sa.select(Specification.id, Specification.spec).where(Specification.id.in_(spec_ids))
        ):
            variables = spec.get("variables") if isinstance(spec, dict) else None
            kept = {}
            for name, value in (variables or {}).items():
                problem = variable_name_problem(name)
                if problem is None and "\0" not in str(value):
                    kept[name] = str(value)
                elif log is not None:
                    log.warning(
                        "conda-store: specification %s: variable %r left out of its kernels: it %s",
                        spec_id,
                        name,
                        problem or "holds a NUL",
                    )
            result[spec_id] = kept
        return result

    def _kernel(
        self,
        kernel_dir: Path,
        prefix: Path,
        link: Path,
        name: str,
        metadata: dict[str, Any],
        variables: dict[str, str],
    ) -> WantedKernel:
        """The spec names the environment's link, never the build's prefix: jupyter_client keeps
        a kernel's argv for its restarts, and the activation script resolves the link at each
        start, so a restarted kernel runs the environment's current build."""
        shipped = json.loads((kernel_dir / "kernel.json").read_text())
        argv = [following_link(str(argument), prefix, link) for argument in shipped.get("argv", [])]
        if argv and not os.path.isabs(argv[0]):
            # ipykernel's own spec says "python": this environment's python, not the server's.
            argv[0] = str(link / "bin" / argv[0])
        language = shipped.get("language", "python")
        label = (
            language.capitalize() if language == "python" else shipped.get("display_name", language)
        )
        display_name = self.display_name_template.format(
            language=label, namespace=metadata["namespace"], environment=metadata["environment"]
        )
        if kernel_dir.name != "python3" and "{language}" not in self.display_name_template:
            display_name = f"{display_name} {label}"
        spec = {
            **shipped,
            "argv": [
                "/bin/bash",
                f"{{resource_dir}}/{ACTIVATE_SCRIPT}",
                str(link),
                "{connection_file}",
                *argv,
            ],
            "display_name": display_name,
            "language": language,
            # The shipped kernel's own env only: the environment's variables are exported by
            # the activation script, unevaluated (see ACTIVATE_AND_EXEC). A shipped variable of
            # the same name is dropped, so that the environment's value wins as it did.
            "env": {
                key: value for key, value in shipped.get("env", {}).items() if key not in variables
            },
            "metadata": {
                **shipped.get("metadata", {}),
                MARKER: {
                    "managed_by": MANAGED_BY,
                    "store_dir": self.store_dir,
                    **metadata,
                    "variables": dict(sorted(variables.items())),
                },
            },
        }
        files = {}
        if variables:
            files[VARIABLES_FILE] = b"".join(
                f"{key}={value}".encode() + b"\0" for key, value in sorted(variables.items())
            )
        return WantedKernel(name=name, spec=spec, resources=kernel_dir, files=files)

    def _ours(self, directory: Path) -> bool:
        try:
            marker = (
                json.loads((directory / "kernel.json").read_text())
                .get("metadata", {})
                .get(MARKER, {})
            )
        except (OSError, ValueError, AttributeError):
            return False
        return marker.get("managed_by") == MANAGED_BY and marker.get("store_dir") == self.store_dir

    def registered(self) -> dict[str, dict[str, Any]]:
        """Kernel specs on disk that this store wrote: {name: spec}."""
        root = Path(self.kernels_dir)
        found = {}
        try:
            candidates = [p for p in root.iterdir() if p.name.startswith(self.name_prefix)]
        except FileNotFoundError:
            return {}
        for directory in candidates:
            if self._ours(directory):
                found[directory.name] = json.loads((directory / "kernel.json").read_text())
        return found

    def sync(self) -> None:
        """Make the kernels directory match the store; only changed specs are written."""
        wanted = self.wanted() if self.enabled else {}
        present = self.registered()
        root = Path(self.kernels_dir)
        published = []
        for name in present.keys() - wanted.keys():
            shutil.rmtree(root / name, ignore_errors=True)
            self.log.info("conda-store: kernel %s removed", name)
        for name, kernel in wanted.items():
            marker = kernel.spec["metadata"][MARKER]
            if present.get(name) != kernel.spec:
                if (root / name).exists() and name not in present:
                    self.log.warning(
                        "conda-store: kernel %s exists and is not ours; left alone", name
                    )
                    continue
                self._write(root / name, kernel)
                self.log.info("conda-store: kernel %s -> build %s", name, marker["build_id"])
            published.append(
                PublishedKernel(
                    name, marker["namespace"], marker["environment"], kernel.spec, str(root / name)
                )
            )
        self.board.publish(KernelListing.of(published))

    @staticmethod
    def _write(directory: Path, kernel: WantedKernel) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if kernel.resources is not None:
            for resource in kernel.resources.iterdir():
                if resource.name != "kernel.json" and resource.is_file():
                    shutil.copyfile(resource, directory / resource.name)
        script = directory / ACTIVATE_SCRIPT
        if not script.is_file() or script.read_text() != ACTIVATE_AND_EXEC:
            script.write_text(ACTIVATE_AND_EXEC)
        # Before kernel.json: a kernel started meanwhile gets the new variables or the old ones.
        if VARIABLES_FILE not in kernel.files:
            (directory / VARIABLES_FILE).unlink(missing_ok=True)
        for file_name, content in kernel.files.items():
            temporary = directory / f".{file_name}.{uuid.uuid4().hex}"
            temporary.write_bytes(content)
            os.replace(temporary, directory / file_name)
        temporary = directory / f".kernel.json.{uuid.uuid4().hex}"
        temporary.write_text(json.dumps(kernel.spec, indent=1))
        os.replace(temporary, directory / "kernel.json")  # readers see the old or the new spec
