"""Start `jupyter conda-store` as a separate process, as a user or a service manager would."""

from __future__ import annotations

import json
import os
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
    def __init__(self, workdir: Path, *args: str, token: str = "test-token"):
        self.workdir = workdir
        self.args = args
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.output = ""

    def start(self, timeout: float = 60) -> StandaloneServer:
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.workdir),
            "JUPYTER_DATA_DIR": str(self.workdir / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.workdir / "runtime"),
        }
        self.log_file = open(self.workdir / f"server-{self.port}-{time.time_ns()}.log", "w+")
        self.process = subprocess.Popen(
            [
                JUPYTER,
                "conda-store",
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
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get("")
                return self
            except (urllib.error.URLError, ConnectionError):
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"jupyter conda-store exited:\n{self.read_output()}"
                    ) from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"jupyter conda-store did not answer in {timeout} s"
                    ) from None
                time.sleep(0.2)

    def get(self, path: str) -> dict:
        """GET a path of this extension's API."""
        return self.get_json(f"conda-store/api/v1/{path}")

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
