"""`jupyter conda-store export|import` and `env copy|rename`: environments moved between
servers (an archive of their history), and copied or renamed on one (service/transfer.py)."""

from __future__ import annotations

import argparse
import sys

from .client import CondaStoreClient
from .store import human_size


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def export(client: CondaStoreClient, args: argparse.Namespace) -> int:
    size = client.export(args.target, args.output)
    print(f"{args.target}: {human_size(size)} written to {args.output}")
    return 0


def import_archive(client: CondaStoreClient, args: argparse.Namespace) -> int:
    imported = client.import_archive(args.file, namespace=args.namespace, name=args.name)
    failed = 0
    for environment in imported:
        label = f"{environment['namespace']}/{environment['name']}"
        current = environment["current_build_id"]
        print(f"{label}: {len(environment['builds'])} builds imported")
        if current is None or args.no_wait:
            continue
        progress = None if args.quiet else _say
        build = client.wait(current, timeout=args.timeout, progress=progress)
        print(f"{label}: current build {current} restored from its lock file: {build['status']}")
        failed += build["status"] != "COMPLETED"
    return 1 if failed else 0


def move(client: CondaStoreClient, args: argparse.Namespace) -> int:
    namespace, name = args.environment
    to_namespace, _, to_name = args.to.rpartition("/")
    operation = client.copy_environment if args.env_command == "copy" else client.rename_environment
    moved = operation(namespace, name, to_namespace or None, to_name or None)
    print(f"{namespace}/{name} {args.env_command} → {moved['namespace']['name']}/{moved['name']}")
    return 0


def add_commands(commands, add, environment, waiting) -> None:
    """The top-level `export` and `import` (`add`: cli.py's way of adding a command)."""
    exporting = add(
        commands,
        "export",
        export,
        "write an environment's (NAMESPACE/NAME) or a namespace's history to an archive: each "
        "completed build's specification, lock file and log",
    )
    exporting.add_argument("target", metavar="NAMESPACE/NAME|NAMESPACE")
    exporting.add_argument("-o", "--output", required=True, help="the archive to write")
    importing = add(
        commands,
        "import",
        import_archive,
        "recreate the environments of an archive here, each build from its lock file (no "
        "solve), and wait for their current builds",
        [waiting],
    )
    importing.add_argument("file", metavar="ARCHIVE")
    importing.add_argument("-n", "--namespace", help="namespace (default: the archive's)")
    importing.add_argument("--name", help="environment name (an archive of one environment)")
    importing.add_argument("--no-wait", action="store_true", help="return at once")


def add_env_commands(env_commands, add, environment) -> None:
    """`env copy` and `env rename`."""
    for verb, text in (
        ("copy", "copy an environment with its history (its files shared: almost no disk)"),
        ("rename", "rename an environment, or move it to another namespace"),
    ):
        command = add(env_commands, verb, move, text, [environment])
        command.add_argument(
            "to", metavar="[NAMESPACE/]NAME", help="the new name, or namespace/name"
        )
