"""`jupyter conda-store env|build|wait` run as a user runs them, against a real standalone server
(itself started as `jupyter conda-store --ServerApp.port=...`: no command still means the server).

Each command is a new process that takes a few seconds to start, so commands that do not depend
on each other run at the same time."""

from __future__ import annotations

import errno
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conda_store_jupyter.client import BuildFailed, CondaStoreClient

from .servers import JUPYTER, StandaloneServer, free_port
from .test_client import DISCOVERY_VARIABLES, freeze_build, running_server, spec


@pytest.fixture(scope="module")
def server(tmp_path_factory, local_channel) -> Iterator[StandaloneServer]:
    with running_server(tmp_path_factory.mktemp("cli-server"), local_channel) as server:
        yield server


@pytest.fixture
def client(server) -> CondaStoreClient:
    return CondaStoreClient(server.url, server.token)


class Command:
    """One `jupyter conda-store ...` process; the server's `--url/--token` unless told otherwise."""

    def __init__(
        self,
        server: StandaloneServer,
        *args: str | Path,
        auth: bool = True,
        env: dict[str, str] | None = None,
    ):
        environment = {k: v for k, v in os.environ.items() if k not in DISCOVERY_VARIABLES}
        # No Jupyter server to discover unless the test says so (the tests may run under one).
        environment["JUPYTER_RUNTIME_DIR"] = str(server.workdir / "no-runtime")
        environment.update(env or {})
        argv = [JUPYTER, "conda-store", *map(str, args)]
        if auth:
            argv += ["--url", server.url, "--token", server.token]
        self.process = subprocess.Popen(
            argv, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self, timeout: float = 120) -> tuple[int, str, str]:
        stdout, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stdout, stderr


def run(server: StandaloneServer, *args: str | Path, **options) -> tuple[int, str, str]:
    return Command(server, *args, **options).result()


def test_create_then_list_show_wait_and_logs(server, client, tmp_path):
    path = tmp_path / "environment.yml"
    path.write_text(spec("demo", "gamma"))
    code, out, err = run(server, "env", "create", "-f", path, "-n", "cli")
    assert code == 0, err
    build_id = client.get_environment("cli", "demo")["current_build_id"]
    assert out == f"cli/demo: build {build_id} COMPLETED\n"
    assert "solving for linux-64: gamma" in err and err.endswith(f"build {build_id}: COMPLETED\n")

    commands = {
        "list": Command(server, "env", "list", "-n", "cli"),
        "show": Command(server, "env", "show", "cli/demo"),
        "wait": Command(server, "wait", "cli/demo"),
        "logs": Command(server, "build", "logs", str(build_id)),
        "from-env": Command(
            server,
            "env",
            "list",
            auth=False,
            env={"CONDA_STORE_URL": server.url, "CONDA_STORE_TOKEN": server.token},
        ),
        "help": Command(server, "env", "create", "--help", auth=False),
    }
    results = {name: command.result() for name, command in commands.items()}
    assert all(code == 0 for code, _, _ in results.values()), results

    table = results["list"][1].splitlines()
    assert re.split(r"\s{2,}", table[0]) == ["ENVIRONMENT", "BUILD", "STATUS", "UPDATED"]
    assert re.match(
        rf"cli/demo\s+{build_id}\s+COMPLETED\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d$", table[1]
    )
    assert "cli/demo" in results["from-env"][1]

    show = results["show"][1]
    assert show.startswith("cli/demo\n") and f"current build:  {build_id} (COMPLETED" in show
    assert f"specification of build {build_id}:" in show and "    - gamma" in show
    assert re.search(rf"^\s+\*\s+{build_id}\s+COMPLETED\s", show, re.MULTILINE), show

    assert results["wait"][1] == f"cli/demo: build {build_id} COMPLETED\n"
    assert "linked gamma" in results["wait"][2]  # the log as progress, on stderr
    assert results["logs"][1] == client.logs(build_id)
    # The options and our words for them; the layout is argparse's (Python 3.13 writes
    # "-f, --file FILE" where older versions write "-f FILE, --file FILE").
    help_text = " ".join(results["help"][1].split())
    assert re.search(r"(?<!\S)-f\b", help_text), help_text
    assert (
        "--file FILE environment YAML (or conda-lock file with --lockfile); - reads stdin"
        in help_text
    )
    assert "--no-wait submit and return at once" in help_text


def test_rollback_and_delete(server, client):
    first = client.wait(
        client.create_environment(spec("evolving", "alpha 1.0"), "cli-history"), progress=False
    )
    second = client.wait(
        client.create_environment(spec("evolving", "alpha 1.1"), "cli-history"), progress=False
    )
    client.wait(client.create_environment(spec("doomed", "alpha"), "cli-history"), progress=False)

    rollback = Command(server, "env", "rollback", "cli-history/evolving", str(first["id"]))
    delete = Command(server, "env", "delete", "cli-history/doomed")
    code, out, err = rollback.result()
    assert (code, out) == (0, f"cli-history/evolving: current build is now {first['id']}\n"), err
    code, out, err = delete.result()
    assert (code, out) == (0, "cli-history/doomed: deleted\n"), err
    assert [e["name"] for e in client.list_environments("cli-history")] == ["evolving"]

    code, out, err = run(server, "env", "show", "cli-history/evolving")
    assert code == 0, err
    assert re.search(rf"^\s+\*\s+{first['id']}\s+COMPLETED", out, re.MULTILINE), out
    assert re.search(rf"^\s+{second['id']}\s+COMPLETED", out, re.MULTILINE), out


def test_follow_the_log_of_a_running_build_then_cancel_it(server, client, tmp_path):
    path = tmp_path / "big.yml"
    path.write_text(spec("big", "csj-bigdata"))
    code, out, err = run(server, "env", "create", "-f", path, "-n", "cli-cancel", "--no-wait")
    assert code == 0, err
    build_id = client.latest_build("cli-cancel", "big")["id"]
    assert re.fullmatch(rf"cli-cancel/big: build {build_id} (QUEUED|BUILDING)\n", out), out

    class Frozen(Exception):
        pass

    def freeze(line: str) -> None:
        if freeze_build(line):
            raise Frozen  # the build now runs until canceled: commands take seconds to start

    with pytest.raises(Frozen):
        client.wait(build_id, progress=freeze)

    follow = Command(server, "build", "logs", str(build_id), "--follow")
    first_line = follow.process.stdout.readline()
    assert f"starting build {build_id}" in first_line, first_line  # streamed while it runs
    code, out, err = run(server, "build", "cancel", str(build_id))
    assert (code, out) == (0, f"build {build_id} CANCELED\n"), err
    code, _, err = follow.result()
    assert (code, err) == (1, f"error: build {build_id} CANCELED: canceled by request\n"), err
    with pytest.raises(BuildFailed):
        client.wait(build_id, progress=False)


def test_failures_exit_non_zero_with_one_line_saying_why(server, tmp_path):
    conflicting = tmp_path / "conflict.yml"
    conflicting.write_text(spec("conflicted", "conflict-a", "conflict-b"))
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [bad\n")
    unreachable = f"http://127.0.0.1:{free_port()}"
    commands = {
        "failed": Command(server, "env", "create", "-f", conflicting, "-n", "cli-fail"),
        "bad-yaml": Command(server, "env", "create", "-f", bad, "-n", "cli-fail"),
        "missing-file": Command(server, "env", "create", "-f", tmp_path / "nope.yml"),
        "missing-env": Command(server, "env", "show", "cli-fail/nope"),
        "unreachable": Command(server, "env", "list", "--url", unreachable, auth=False),
        "no-server": Command(server, "env", "list", auth=False),
    }
    results = {name: command.result() for name, command in commands.items()}

    code, out, err = results["failed"]
    assert code == 1 and out == ""
    # The log, as it was written: our line saying the solve failed, then the solver's
    # explanation (its own words) naming the package in conflict.
    log, _, last = err.rstrip("\n").rpartition("\n")
    assert "solve failed for linux-64:\n" in log, err
    assert "conflict-base" in log.split("solve failed for linux-64:\n", 1)[1], err
    assert re.match(r"error: build \d+ FAILED: solve failed for linux-64: .*conflict-base", last), (
        err
    )
    assert results["bad-yaml"][0] == 1
    assert re.fullmatch(r"error: Invalid YAML: .* \(HTTP 400\)\n", results["bad-yaml"][2])
    assert results["missing-file"][:2] == (1, "")
    # The reason is the operating system's, in its words.
    assert (
        results["missing-file"][2]
        == f"error: cannot read {tmp_path / 'nope.yml'}: {os.strerror(errno.ENOENT)}\n"
    )
    assert results["missing-env"][0] == 1
    assert (
        results["missing-env"][2] == "error: environment cli-fail/nope does not exist (HTTP 404)\n"
    )
    assert results["unreachable"][0] == 2
    # Ours: one line naming the URL tried; the reason after it is the network stack's words.
    assert re.fullmatch(
        rf"error: cannot reach conda-store at {re.escape(unreachable)}/conda-store/: [^\n]+\n",
        results["unreachable"][2],
    ), results["unreachable"][2]
    assert results["no-server"][0] == 2 and "CONDA_STORE_URL" in results["no-server"][2]
