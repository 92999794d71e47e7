"""Start `jupyter conda-store` as a separate process, as a user or a service manager would."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

JUPYTER = os.path.join(os.path.dirname(sys.executable), "jupyter")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StandaloneServer:
    def __init__(
        self, workdir: Path, *args: str, token: str = "test-token", command: str = "conda-store"
    ):
        # `command`: `conda-store` (the service) or `server` (a Jupyter Server with the
        # extension, as a user's server is)
        self.workdir = workdir
        self.args = args
        self.token = token
        self.command = command
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.output = ""

    def start(self, timeout: float = 60) -> StandaloneServer:
        return self.launch().wait_ready(timeout)

    def launch(self) -> StandaloneServer:
        """Start the process without waiting for it to answer (see `wait_ready`)."""
        env = _jupyter_env(self.workdir)
        self.log_file = open(self.workdir / f"server-{self.port}-{time.time_ns()}.log", "w+")
        self.process = subprocess.Popen(
            [
                JUPYTER,
                self.command,
                f"--ServerApp.port={self.port}",
                "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.workdir}",
                "--ServerApp.allow_root=True",
                *self.args,
            ],
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    def wait_ready(self, timeout: float = 60) -> StandaloneServer:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get("")
                return self
            except (urllib.error.URLError, ConnectionError):
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"jupyter {self.command} exited:\n{self.read_output()}"
                    ) from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"jupyter {self.command} did not answer in {timeout} s"
                    ) from None
                time.sleep(0.2)

    def get(self, path: str) -> dict:
        """GET a path of this extension's API."""
        return self.get_json(f"conda-store/api/v1/{path}")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """Any request to a path of this extension's API, with a JSON body; the JSON answer."""
        request = urllib.request.Request(
            f"{self.url}/conda-store/api/v1/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def stream(self, path: str, timeout: float = 120):
        """The lines of a streamed answer (server-sent events), as they arrive."""
        request = urllib.request.Request(
            f"{self.url}/conda-store/api/v1/{path}",
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            for raw in response:
                yield raw.decode().rstrip("\n")

    def get_json(self, path: str) -> dict:
        """GET any path of the server (e.g. api/kernelspecs)."""
        request = urllib.request.Request(
            f"{self.url}/{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def read_output(self) -> str:
        self.log_file.flush()
        self.log_file.seek(0)
        return self.log_file.read()

    def stop(self, timeout: float = 30) -> str:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout)
        self.output = self.read_output()
        self.log_file.close()
        return self.output

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.output = self.read_output()
        self.log_file.close()


def isolated_dirs(root: Path, config_dir: Path | None = None) -> dict[str, str]:
    """Environment variables that keep a process's Jupyter, IPython and XDG files (server info,
    kernel specs, kernels' history, Jupyter Server's trash) under `root`, not in the real user's
    home."""
    return {
        "JUPYTER_CONFIG_DIR": str(config_dir or root / "config"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "IPYTHONDIR": str(root / "ipython"),
        "XDG_DATA_HOME": str(root / "xdg-data"),
    }


def _jupyter_env(workdir: Path) -> dict[str, str]:
    # The configuration file of a test (jupyter_conda_store_config.py) is in `workdir` itself.
    return {**os.environ, **isolated_dirs(workdir, config_dir=workdir)}


class Worker:
    """`jupyter conda-store worker`, as an operator starts one on a build machine."""

    def __init__(self, workdir: Path, hostname: str, *args: str, concurrency: int = 1):
        self.workdir = workdir
        self.hostname = hostname
        self.args = (f"--hostname={hostname}", f"--concurrency={concurrency}", *args)
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> Worker:
        return self.launch().wait_ready(timeout)

    def launch(self) -> Worker:
        self.log_path = self.workdir / f"worker-{self.hostname}-{time.time_ns()}.log"
        self.log_file = open(self.log_path, "w+")
        self.process = subprocess.Popen(
            [JUPYTER, "conda-store", "worker", *self.args],
            env=_jupyter_env(self.workdir),
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    def wait_ready(self, timeout: float = 60) -> Worker:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while f"{self.hostname} ready." not in self.read_output():
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.read_output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the worker was not ready in {timeout} s:\n{self.read_output()}"
                )
            time.sleep(0.1)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def read_output(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float = 30) -> str:
        """A warm shutdown (SIGTERM): running builds end first."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()
        return self.read_output()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.log_file.close()


class PrivateRedis:
    """A real redis-server of the test's own, on a free port, that can be restarted: the
    machine's shared Redis is not the test's to stop. Like that one, it keeps nothing on disk,
    so a restart loses every message it held."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> PrivateRedis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()


# The last line of a build's log once everything about its end is done (build.py, recovery.py):
# its process's ("build COMPLETED in 3.20 s", after envs/<name> was set or its partial prefix
# removed), or, for a process that was killed, recovery's (after it removed the prefix).
LOG_ENDED = re.compile(
    r" build (COMPLETED|FAILED|CANCELED)( in [0-9.]+ s|: .*; partial prefix removed)$", re.M
)


def build_log_ended(log: Path) -> bool:
    """Whether a started build's end is complete on disk, as its log's last line says. The
    database says COMPLETED (or FAILED) a moment before: envs/<name> follows it, and a failed
    build's prefix is removed, just after the commit. A test that looks at the link or the
    prefix waits for this line first. A log no longer on disk was published (S3): ended."""
    try:
        return LOG_ENDED.search(log.read_text()) is not None
    except FileNotFoundError:
        return True
