"""`jupyter conda-store env|build|wait|reproduce|export|import ...`: manage environments of a
running conda-store server.

`jupyter conda-store` with no command (or with server options) starts the server instead; see
`app.main`. Built on `client.CondaStoreClient`; exits 0 on success, 1 when a build fails or the
server refuses a request (its message on stderr), 2 when no server can be reached or the command
line is wrong.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from .cli_transfer import add_commands as add_transfer_commands
from .cli_transfer import add_env_commands
from .client import (
    BuildFailed,
    CondaStoreClient,
    CondaStoreClientError,
    ServerNotFound,
    ServerUnreachable,
    parse_build_target,
    parse_environment,
)
from .reproduce import add_arguments as add_reproduce_arguments
from .reproduce import reproduce
from .store import human_size

COMMANDS = ("env", "build", "wait", "reproduce", "export", "import")
PROG = "jupyter conda-store"
EXIT_FAILED = 1
EXIT_UNREACHABLE = 2
EXIT_INTERRUPTED = 130
INFO_WIDTH = 70  # status_info column of `env show`


# -- formatting ---------------------------------------------------------------------------------
def _when(value: str | None) -> str:
    """An API timestamp (ISO 8601, UTC, no zone) in local time."""
    if not value:
        return "-"
    moment = datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _size(value: int | None) -> str:
    return human_size(value) if value else "-"


def _one_line(text: str | None, width: int | None = None) -> str:
    line = " ".join((text or "").split())
    return line if width is None or len(line) <= width else line[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in [headers, *rows]
    )


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _environment_name(text: str) -> tuple[str, str]:
    try:
        return parse_environment(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _build_or_environment(text: str) -> int | str:
    """A build id, or the text for the client to read (it reads `ns/name` and `ns/name:12`)."""
    try:
        target = parse_build_target(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return target if isinstance(target, int) else text


# -- commands -----------------------------------------------------------------------------------
def env_create(client: CondaStoreClient, args: argparse.Namespace) -> int:
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8") as file:
                text = file.read()
    except OSError as error:
        raise CondaStoreClientError(f"cannot read {args.file}: {error.strerror or error}") from None
    namespace = args.namespace or client.primary_namespace()
    build_id = client.create_environment(
        text, namespace, name=args.name, description=args.description, is_lockfile=args.lockfile
    )
    build = client.get_build(build_id)
    label = f"{namespace}/{build['specification']['name']}"
    if args.no_wait:
        print(f"{label}: build {build_id} {build['status']}")
        return 0
    build = client.wait(build_id, timeout=args.timeout, progress=None if args.quiet else _stderr)
    print(f"{label}: build {build_id} {build['status']}")
    return 0


def env_list(client: CondaStoreClient, args: argparse.Namespace) -> int:
    environments = client.list_environments(args.namespace, search=args.search)
    if args.json:
        print(json.dumps(environments, indent=2))
        return 0
    # Builds still to come say more than the current build (always COMPLETED) does.
    active: dict[int, dict[str, Any]] = {}
    for status in ("QUEUED", "BUILDING"):
        for build in client.list_builds(args.namespace, status=status):
            active.setdefault(build["environment_id"], build)
    rows = []
    for environment in environments:
        namespace, name = environment["namespace"]["name"], environment["name"]
        current = environment.get("current_build")
        states = [current["status"]] if current else []
        pending = active.get(environment["id"])
        if pending is None and current is None:
            pending = client.latest_build(namespace, name)  # it never completed: say how it ended
        if pending is not None:
            states.append(f"build {pending['id']} {pending['status']}")
        rows.append(
            [
                f"{namespace}/{name}",
                str(environment["current_build_id"] or "-"),
                "; ".join(states),
                _when(environment.get("updated_on")),
            ]
        )
    if not rows:
        print("no environments")
        return 0
    print(_table(["ENVIRONMENT", "BUILD", "STATUS", "UPDATED"], rows))
    return 0


def env_show(client: CondaStoreClient, args: argparse.Namespace) -> int:
    namespace, name = args.environment
    environment = client.get_environment(namespace, name)
    builds = client.list_builds(environment_id=environment["id"])
    if args.json:
        print(json.dumps({"environment": environment, "builds": builds}, indent=2))
        return 0
    current_id = environment["current_build_id"]
    shown = client.get_build(current_id or builds[-1]["id"]) if builds else None
    print(f"{namespace}/{name}")
    print(f"  description:    {_one_line(environment.get('description')) or '-'}")
    if current_id and shown:
        ended, size = _when(shown["ended_on"]), _size(shown["size"])
        print(f"  current build:  {current_id} ({shown['status']}, ended {ended}, {size})")
    else:
        print("  current build:  - (no build has completed)")
    print(f"  updated:        {_when(environment.get('updated_on'))}")
    if shown:
        specification = shown["specification"]
        print(f"  specification of build {shown['id']}:")
        if specification["is_lockfile"]:
            print("    (a conda-lock file)")
        else:
            for line in yaml.safe_dump(specification["spec"], sort_keys=False).splitlines():
                print(f"    {line}")
    print("  builds:")
    rows = [
        [
            "*" if build["id"] == current_id else "",
            str(build["id"]),
            build["status"],
            _when(build["scheduled_on"]),
            _when(build["ended_on"]),
            _size(build["size"]),
            _one_line(build["status_info"], INFO_WIDTH),
        ]
        for build in reversed(builds)
    ]
    table = _table(["", "BUILD", "STATUS", "SCHEDULED", "ENDED", "SIZE", "INFO"], rows)
    print("\n".join(f"  {line}" for line in table.splitlines()))
    return 0


def env_rollback(client: CondaStoreClient, args: argparse.Namespace) -> int:
    namespace, name = args.environment
    environment = client.rollback(namespace, name, args.build_id)
    print(f"{namespace}/{name}: current build is now {environment['current_build_id']}")
    return 0


def env_delete(client: CondaStoreClient, args: argparse.Namespace) -> int:
    namespace, name = args.environment
    client.delete_environment(namespace, name)
    print(f"{namespace}/{name}: deleted")
    return 0


def build_logs(client: CondaStoreClient, args: argparse.Namespace) -> int:
    if not args.follow:
        sys.stdout.write(client.logs(args.build_id))
        return 0
    build = client.follow_logs(args.build_id, lambda line: print(line, flush=True))
    if build["status"] != "COMPLETED":
        raise BuildFailed(build)
    return 0


def build_cancel(client: CondaStoreClient, args: argparse.Namespace) -> int:
    build = client.cancel(args.build_id)
    print(f"build {build['id']} {build['status']}")
    return 0


def wait(client: CondaStoreClient, args: argparse.Namespace) -> int:
    build = client.wait(args.target, timeout=args.timeout, progress=None if args.quiet else _stderr)
    prefix = f"{args.target}: " if isinstance(args.target, str) else ""
    print(f"{prefix}build {build['id']} {build['status']}")
    return 0


# -- parser -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    server = argparse.ArgumentParser(add_help=False)
    options = server.add_argument_group("server")
    options.add_argument(
        "--url",
        help="conda-store URL, e.g. http://localhost:8888/conda-store/ "
        "(default: $CONDA_STORE_URL, else the Jupyter server this runs under)",
    )
    options.add_argument(
        "--token", help="API token (default: $CONDA_STORE_TOKEN, or the discovered server's token)"
    )
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--timeout", type=float, help="give up after this many seconds")
    waiting.add_argument("-q", "--quiet", action="store_true", help="do not print the build log")

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Manage the conda environments of a running conda-store server.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{env,build,wait,reproduce,export,import}"
    )

    def add(
        group: argparse._SubParsersAction,
        name: str,
        run: Callable[..., int],
        help: str,
        parents: Sequence[argparse.ArgumentParser] = (),
    ) -> argparse.ArgumentParser:
        command = group.add_parser(name, help=help, description=help, parents=[*parents, server])
        command.set_defaults(run=run)
        return command

    # The environment a command is about, first of its arguments.
    environment = argparse.ArgumentParser(add_help=False)
    environment.add_argument("environment", type=_environment_name, metavar="NAMESPACE/NAME")

    env = commands.add_parser("env", help="create, list, show, roll back and delete environments")
    env_commands = env.add_subparsers(
        dest="env_command", required=True, metavar="{create,list,show,rollback,delete,copy,rename}"
    )
    create = add(
        env_commands,
        "create",
        env_create,
        "create or update an environment from a specification and wait for its build",
        [waiting],
    )
    create.add_argument(
        "-f",
        "--file",
        required=True,
        help="environment YAML (or conda-lock file with --lockfile); - reads stdin",
    )
    create.add_argument("-n", "--namespace", help="namespace (default: your primary namespace)")
    create.add_argument("--name", help="environment name (default: the specification's)")
    create.add_argument("--description", help="environment description")
    create.add_argument(
        "--lockfile", action="store_true", help="the file is a conda-lock file (needs --name)"
    )
    create.add_argument("--no-wait", action="store_true", help="submit and return at once")

    listing = add(env_commands, "list", env_list, "list environments")
    listing.add_argument("-n", "--namespace", help="only this namespace")
    listing.add_argument("--search", help="only names containing this text")
    listing.add_argument("--json", action="store_true", help="print the API's JSON")

    show = add(
        env_commands, "show", env_show, "show an environment and its build history", [environment]
    )
    show.add_argument("--json", action="store_true", help="print the API's JSON")

    rollback = add(
        env_commands,
        "rollback",
        env_rollback,
        "make an older completed build current again (nothing is rebuilt)",
        [environment],
    )
    rollback.add_argument("build_id", type=int, metavar="BUILD_ID")

    add(
        env_commands,
        "delete",
        env_delete,
        "delete an environment (its builds' logs and lock files stay)",
        [environment],
    )
    add_env_commands(env_commands, add, environment)

    build = commands.add_parser("build", help="a build's log, or cancel it")
    build_commands = build.add_subparsers(
        dest="build_command", required=True, metavar="{logs,cancel}"
    )
    logs = add(build_commands, "logs", build_logs, "print a build's log")
    logs.add_argument("build_id", type=int, metavar="BUILD_ID")
    logs.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing lines as they are "
        "written until the build ends (exit 1 unless it COMPLETED)",
    )
    cancel = add(build_commands, "cancel", build_cancel, "cancel a queued or running build")
    cancel.add_argument("build_id", type=int, metavar="BUILD_ID")

    waiter = add(
        commands,
        "wait",
        wait,
        "wait for a build, or an environment's newest build, to "
        "end, printing its log (exit 1 unless it COMPLETED)",
        [waiting],
    )
    waiter.add_argument("target", type=_build_or_environment, metavar="NAMESPACE/NAME|BUILD_ID")
    add_transfer_commands(commands, add, environment, waiting)
    add_reproduce_arguments(
        add(
            commands,
            "reproduce",
            reproduce,
            "recreate the environment a notebook recorded, from its lock file (no solve), on "
            "this server, and with --execute run the notebook on it",
            [waiting],
        )
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        client = CondaStoreClient(args.url, args.token)
        return args.run(client, args)
    except (ServerNotFound, ServerUnreachable) as error:
        _stderr(f"error: {_one_line(str(error))}")
        return EXIT_UNREACHABLE
    except (CondaStoreClientError, ValueError) as error:
        _stderr(f"error: {_one_line(str(error))}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _stderr("interrupted (a build that was started goes on; `wait` for it again)")
        return EXIT_INTERRUPTED


def run() -> None:
    """Entry point of `jupyter conda-store`: the client commands start in about half a second
    (httpx is most of it), since only starting the server needs Jupyter Server imported."""
    argv = sys.argv[1:]
    if argv and argv[0] in COMMANDS:
        sys.exit(main(argv))
    if argv and argv[0] == "worker":
        from .distributed.worker import main as work

        return work(argv[1:])
    if argv and argv[0] == "gc":
        from .gc_command import main as collect

        return collect(argv[1:])
    from .app import main as serve

    serve(argv)
