"""`jupyter conda-store reproduce NOTEBOOK.ipynb [--execute]`: recreate the environment a
notebook recorded (its `conda_store` metadata, api_records.py) on a conda-store server (this
one, a colleague's, another hub's), and with --execute run the notebook on it.

The environment comes from the lock file the notebook carries (or, if it carries none, the one
its build has in the store), submitted as a lock-file build: no solve, the very packages, which
is checked against the lock file's hashes afterwards. When only the specification can be had,
it is solved again, and it says so: the result may differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from .api_records import NOTEBOOK_METADATA_KEY
from .client import CondaStoreClient, CondaStoreClientError

KERNEL_WAIT_SECONDS = 60.0  # the server registers an environment's kernel once it is built


def read_record(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the notebook, its record); an error that says what to do if it has none."""
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CondaStoreClientError(f"cannot read {path} as a notebook: {error}") from None
    record = (notebook.get("metadata") or {}).get(NOTEBOOK_METADATA_KEY)
    if not isinstance(record, dict) or not record.get("namespace"):
        raise CondaStoreClientError(
            f"{path} records no conda-store build: save it once in JupyterLab on a kernel of a "
            "conda-store environment"
        )
    return notebook, record


def locked_hashes(lockfile: str) -> dict[str, str]:
    """name → sha256 of the conda packages a lock file pins for this machine's platform."""
    from .solver import host_platform

    platform = host_platform()
    content = yaml.safe_load(lockfile) or {}
    return {
        package["name"]: package.get("hash", {}).get("sha256", "")
        for package in content.get("package", [])
        if package.get("manager") == "conda" and package.get("platform") == platform
    }


def _lockfile(client: CondaStoreClient, record: dict[str, Any], say) -> str | None:
    """The lock file to recreate from: the notebook's own, else its build's in this store."""
    lockfile = record.get("lockfile")
    if lockfile:
        if hashlib.sha256(lockfile.encode()).hexdigest() != record.get("lockfile_sha256"):
            say("warning: the notebook's lock file does not match its recorded hash (edited?)")
        return lockfile
    try:  # the same store, and the same build there (its specification's hash tells)
        found = client.build_record(int(record["build_id"]))
    except (CondaStoreClientError, KeyError, TypeError, ValueError):
        return None
    if found["specification_sha256"] != record.get("specification_sha256"):
        return None
    return found["lockfile"]


def reproduce(client: CondaStoreClient, args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    notebook, record = read_record(args.notebook)
    namespace = args.namespace or record["namespace"]
    name = args.name or record["environment"]
    label = f"{namespace}/{name}"
    lockfile = _lockfile(client, record, say)
    if lockfile is not None:
        say(f"recreating {label} from the recorded lock file (no solve)")
        build_id = client.create_environment(lockfile, namespace, name=name, is_lockfile=True)
    else:
        specification = _specification(client, record)
        say(
            f"warning: no lock file for build {record.get('build_id')} of "
            f"{record['namespace']}/{record['environment']}: solving its specification again, "
            "so the packages may differ from the ones the notebook ran on"
        )
        build_id = client.create_environment(specification, namespace, name=name)
    progress = None if args.quiet else say
    build = client.wait(build_id, timeout=args.timeout, progress=progress)
    print(f"{label}: build {build_id} {build['status']}")
    if build["status"] != "COMPLETED":
        return 1
    if lockfile is not None:
        wanted = locked_hashes(lockfile)
        got = {p["name"]: p["sha256"] for p in client.packages(build_id) if p["manager"] == "conda"}
        if got != wanted:
            differ = sorted(set(wanted.items()) ^ set(got.items()))
            print(f"{label}: packages differ from the lock file: {differ[:10]}")
            return 1
        print(f"{label}: identical package hashes ({len(wanted)} conda packages)")
    if args.execute:
        return execute(notebook, args, f"conda-store-{namespace}--{name}", say)
    return 0


def _specification(client: CondaStoreClient, record: dict[str, Any]) -> str:
    try:
        build = client.get_build(int(record["build_id"]))
    except (CondaStoreClientError, KeyError, TypeError, ValueError):
        build = None
    if build is None or build["specification"]["sha256"] != record.get("specification_sha256"):
        raise CondaStoreClientError(
            "the notebook carries no lock file, and this store does not have its build: "
            "nothing to recreate it from"
        )
    return yaml.safe_dump(build["specification"]["spec"], sort_keys=False)


def execute(notebook: dict[str, Any], args: argparse.Namespace, kernel: str, say) -> int:
    """Run the notebook on the environment's kernel (nbclient); 0 if every cell ran."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    specs = KernelSpecManager()
    deadline = time.monotonic() + KERNEL_WAIT_SECONDS
    while True:  # registered by the server once the build completed
        try:
            specs.get_kernel_spec(kernel)
            break
        except NoSuchKernel:
            if time.monotonic() > deadline:
                say(
                    f"no kernel {kernel} here: run this on the machine of the server that built "
                    "it, and add ipykernel to the environment if it has none"
                )
                return 1
            time.sleep(0.25)
    document = nbformat.reads(json.dumps(notebook), as_version=4)  # (joins multi-line sources)
    client = NotebookClient(
        document, kernel_name=kernel, timeout=args.cell_timeout, kernel_manager_kwargs={}
    )
    client.kernel_spec_manager = specs
    try:
        client.execute()
    except CellExecutionError as error:
        print(f"the notebook did not run on {kernel}: {str(error).strip().splitlines()[-1]}")
        return 1
    cells = sum(1 for cell in document.cells if cell.cell_type == "code")
    if args.output:
        nbformat.write(document, args.output)
    print(f"the notebook ran on {kernel}: {cells} code cells, no error")
    return 0


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    command.add_argument(
        "-n", "--namespace", help="namespace to recreate it in (default: the recorded one)"
    )
    command.add_argument("--name", help="environment name (default: the recorded one)")
    command.add_argument(
        "--execute", action="store_true", help="then run the notebook on it (nbclient)"
    )
    command.add_argument("-o", "--output", help="with --execute: write the executed notebook here")
    command.add_argument(
        "--cell-timeout", type=float, default=600, help="seconds one cell may run (--execute)"
    )
