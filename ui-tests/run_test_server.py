"""Run the galata test server inside a throw-away root, and remove the root when it exits.

Everything the server writes goes under one directory made for this run (in $TMPDIR):

    csj-ui-tests-XXXXXXXX/
      data/      JUPYTER_DATA_DIR: the kernel specs the extension registers (data/kernels)
      config/    JUPYTER_CONFIG_DIR: JupyterLab's user settings
      runtime/   JUPYTER_RUNTIME_DIR: server info and kernel connection files
      ipython/   IPYTHONDIR of the kernels the tests start
      xdg-data/  XDG_DATA_HOME: the trash Jupyter Server moves deleted files to
      tmp/       TMPDIR: galata's workspaces and root dir, anything else made with tempfile
      store/     the conda store (set in jupyter_server_test_config.py)
      conda-store-jupyter-ui-test-channel/   the local test channel (idem)

so nothing lands in the user's ~/.local/share/jupyter, ~/.local/share/Trash, ~/.jupyter or
~/.ipython, and two checkouts never share a directory.

The server runs as a child of this script, in a process group of its own: a SIGTERM, SIGINT
(Ctrl-C) or SIGHUP to this script (Playwright signals the web server's process group, see
`gracefulShutdown` in playwright.config.js) is passed on to the server once, as SIGTERM; the
server stops its kernels and builds, and this script waits for it and then deletes the root. If
this script dies without that chance (SIGKILL), the kernel sends the server a SIGTERM
(PR_SET_PDEATHSIG) so it does not keep the port; the root then stays, and the leak check of the
galata run (leak-check-reporter.js) reports it.

Usage: python run_test_server.py [extra jupyter lab arguments]
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "jupyter_server_test_config.py"
ROOT_PREFIX = "csj-ui-tests-"
# Seconds the server gets to stop after a SIGTERM before it is killed (Playwright waits longer).
STOP_TIMEOUT = 30

DIRECTORIES = {
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "IPYTHONDIR": "ipython",
    # Jupyter Server sends deleted files to the XDG trash (~/.local/share/Trash): the run's own.
    "XDG_DATA_HOME": "xdg-data",
    "TMPDIR": "tmp",
}


def log(message: str) -> None:
    print(f"[run_test_server] {message}", file=sys.stderr, flush=True)


def remove_tree(root: Path) -> None:
    """rmtree that also removes read-only files and copes with files still being closed."""

    def make_writable_and_retry(function, path, _error):  # type: ignore[no-untyped-def]
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            os.chmod(path, stat.S_IRWXU)
        except OSError:
            pass
        function(path)

    handler = {"onexc" if sys.version_info >= (3, 12) else "onerror": make_writable_and_retry}
    for attempt in range(5):
        try:
            shutil.rmtree(root, **handler)
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if attempt == 4:
                log(f"could not remove {root}: {error}")
                raise
            time.sleep(0.5)


def _terminate_with_parent() -> None:
    """In the server process, before exec: get a SIGTERM when this script dies (Linux)."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and what it started in its process group (builds)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
    env = dict(os.environ)
    for variable, name in DIRECTORIES.items():
        (root / name).mkdir()
        env[variable] = str(root / name)
    env["CSJ_UI_TEST_ROOT"] = str(root)
    log(f"server root {root}")

    child: subprocess.Popen[bytes] | None = None
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if child is not None and child.poll() is None and not stopping:
            log(f"signal {signum}: stopping the server")
            child.terminate()
        stopping = True

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)

    code = 1
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--config", str(CONFIG), *sys.argv[1:]],
            env=env,
            cwd=HERE,
            # Signals to this script's group (Ctrl-C, Playwright) reach the server once, from
            # stop(), and not its build and kernel processes directly.
            process_group=0,
            preexec_fn=_terminate_with_parent,
        )
        if stopping:  # a signal came before the server existed
            child.terminate()
        stop_deadline: float | None = None
        while True:
            try:
                code = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            if stopping and stop_deadline is None:
                stop_deadline = time.monotonic() + STOP_TIMEOUT
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                log(f"server did not stop within {STOP_TIMEOUT} s of the signal; killing it")
                _kill_group(child)
                stop_deadline = float("inf")
    finally:
        if child is not None and child.poll() is None:
            _kill_group(child)
            child.wait()
        remove_tree(root)
        log(f"server exited with {code}; removed {root}")
    return code


if __name__ == "__main__":
    sys.exit(main())
