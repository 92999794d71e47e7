"""Build processes that start in milliseconds: a small fork server of our own.

Why not multiprocessing's forkserver: each of its children re-imports the parent's `__main__`
before running anything. Under `jupyter lab` or `jupyter server` that is all of Jupyter Server,
about 3.5 s per build. The launcher is started once, as a fresh interpreter whose `__main__` is
a one-line `python -c` (nothing heavy to re-import), imports the build code, says it is ready,
and then forks one child per build. Forking a process that has it all imported takes a few
milliseconds.

Protocol: one pickled message per line (base64) each way over the launcher's stdin and stdout.
- server → launcher: ("prepare", settings) once, then ("start", build_id, settings, claim) and
  ("kill", build_id);
- launcher → server: ("ready", pid), ("started", build_id, pid), ("exited", build_id, exitcode).
Kills go through the launcher because only it knows whether a pid is still its unreaped child
(a pid killed from outside after reaping could belong to another process by then).

Lifetime: the launcher dies with the process that started it (PR_SET_PDEATHSIG, plus EOF on its
stdin), and kills its children when it goes; each child dies with the launcher (PDEATHSIG). Each
build leads a process group of its own, so a kill reaches what it started too (uv); those
subprocesses also die with the build (`die_with_parent`, their preexec function).
"""

from __future__ import annotations

import base64
import ctypes
import json
import logging
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .buildenv import build_environment

_PR_SET_PDEATHSIG = 1
# `python -c` rather than `-m`: sys.path is the server's before anything is imported.
_BOOTSTRAP = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from conda_store_jupyter.launcher import main; main(int(sys.argv[2]))"
)
_LOG = logging.getLogger(__name__)
READY_TIMEOUT = 60.0  # seconds the launcher may take to import the build code


def _encode(message: tuple[Any, ...]) -> bytes:
    return base64.b64encode(pickle.dumps(message)) + b"\n"


def _decode(line: bytes) -> tuple[Any, ...]:
    return pickle.loads(base64.b64decode(line))


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent goes (Linux); if it went already, leave now."""
    _set_pdeathsig()
    if os.getppid() != parent_pid:
        os._exit(1)


def _set_pdeathsig() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: EOF on stdin (launcher) or recovery (builds)
        pass


def die_with_parent() -> None:
    """`preexec_fn` of the subprocesses a build starts (uv): killed when the build process dies,
    whoever kills it (a kill -9 of the server reaches the build through the launcher; without
    this, uv would go on writing into a prefix nobody owns)."""
    _set_pdeathsig()


class BuildProcess:
    """The server's handle on one build process (the subset of multiprocessing.Process used)."""

    def __init__(self, launcher: BuildLauncher, build_id: int, pid: int):
        self._launcher = launcher
        self.build_id = build_id
        self.pid = pid
        self.exitcode: int | None = None
        self._ended = threading.Event()

    def _set_exitcode(self, code: int) -> None:
        self.exitcode = code
        self._ended.set()

    def is_alive(self) -> bool:
        return self.exitcode is None

    def kill(self) -> None:
        if self.exitcode is None:
            self._launcher._send(("kill", self.build_id))

    def join(self, timeout: float | None = None) -> None:
        self._ended.wait(timeout)


class BuildLauncher:
    """Starts and talks to the launcher process; thread-safe."""

    def __init__(
        self,
        settings: Any = None,
        log: logging.Logger | logging.LoggerAdapter = _LOG,
        on_exit: Callable[[], None] = lambda: None,
    ):
        self._settings = settings  # for `prepare_process` in the launcher, before any fork
        self._log = log
        self._on_exit = on_exit  # told when a build process ends (from the reader thread)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._started: dict[int, threading.Event] = {}
        self._processes: dict[int, BuildProcess] = {}

    def start(self) -> None:
        """Start the launcher if it is not running (non-blocking: call `wait_ready` after).

        Call it from a long-lived thread (the event loop's): PDEATHSIG is tied to the thread
        that started the process, not to the process."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            self._ready.clear()
            self._start_time = time.monotonic()
            prepare = ["--prepare"] if self._settings is not None else []
            # The same interpreter and import path as this process, so the same code; the path
            # is set inside, not through PYTHONPATH, which builds would pass on to uv and to the
            # environments' own interpreters.
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _BOOTSTRAP,
                    json.dumps(sys.path),
                    str(os.getpid()),
                    *prepare,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
                # Builds run with an allow list of variables, never the server's secrets.
                env=build_environment(getattr(self._settings, "build_environment_passthrough", ())),
            )
            threading.Thread(
                target=self._read,
                args=(self._process,),
                name="conda-store launcher reader",
                daemon=True,
            ).start()
            if self._settings is not None:
                self._write(self._process, ("prepare", self._settings))

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the build launcher did not start within {timeout:.0f} s")

    def launch(self, build_id: int, settings: Any, claim: str) -> BuildProcess:
        """Fork a child of the launcher that runs `run_build(build_id, settings, claim)`."""
        self.start()
        self.wait_ready()
        started = threading.Event()
        self._started[build_id] = started
        self._send(("start", build_id, settings, claim))
        if not started.wait(READY_TIMEOUT) or build_id not in self._processes:
            self._started.pop(build_id, None)
            raise RuntimeError(f"the build launcher did not start build {build_id}")
        return self._processes[build_id]

    def stop(self) -> None:
        """End the launcher (it kills any build still running) and wait for it."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            if self._process is None:
                raise RuntimeError("the build launcher is not running")
            self._write(self._process, message)

    @staticmethod
    def _write(process: subprocess.Popen[bytes], message: tuple[Any, ...]) -> None:
        assert process.stdin is not None
        try:
            process.stdin.write(_encode(message))
            process.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise RuntimeError("the build launcher is not running") from None

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                message = _decode(line)
            except Exception:  # noqa: BLE001 -- never lose the reader over one bad line
                self._log.warning(
                    "conda-store: unreadable line from the build launcher: %r", line[:200]
                )
                continue
            kind = message[0]
            if kind == "ready":
                self._log.info(
                    "conda-store: build launcher ready (pid %s) in %.2f s",
                    process.pid,
                    time.monotonic() - self._start_time,
                )
                self._ready.set()
            elif kind == "started":
                _, build_id, pid = message
                self._processes[build_id] = BuildProcess(self, build_id, pid)
                event = self._started.pop(build_id, None)
                if event is not None:
                    event.set()
            elif kind == "exited":
                _, build_id, code = message
                handle = self._processes.pop(build_id, None)
                if handle is not None:
                    handle._set_exitcode(code)
                self._on_exit()
        # EOF: the launcher is gone, and its children with it (PDEATHSIG).
        code = process.wait()
        if code != 0:
            self._log.warning(
                "conda-store: the build launcher (pid %s) ended with code %s", process.pid, code
            )
        for build_id, handle in list(self._processes.items()):
            handle._set_exitcode(-signal.SIGKILL)
            self._processes.pop(build_id, None)
        for event in self._started.values():
            event.set()
        self._on_exit()


# -- the launcher process -------------------------------------------------------------------


def _child(build_id: int, settings: Any, claim: str, launcher_pid: int) -> None:
    """In the forked child: detach from the protocol pipes, die with the launcher, lead a
    process group of its own (a kill, or the fence, takes what it started with it), build."""
    exitcode = 1
    try:
        os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        _die_with_parent(launcher_pid)
        from .build import run_build

        run_build(build_id, settings, claim)
        exitcode = 0
    except BaseException:  # noqa: BLE001 -- said in the server's log; the exit code tells the rest
        traceback.print_exc()
    finally:
        # The outcome is in the database. Leave at once: py-rattler's runtime sometimes crashes
        # while a process tears down after async work, and that would read as a failed build.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exitcode)


def _kill_group(pid: int) -> None:
    """SIGKILL a build's process group (the build leads it: its pid is the group's id). Its
    pid is not reused while the launcher has not reaped it, nor its group id while a member
    lives."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main(parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    # The point of the launcher: the build code imported once, not per build (conda-lock's lock
    # file models too, which the modules import only where used).
    import conda_lock.lockfile  # noqa: F401

    from . import build

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    # The protocol gets a descriptor of its own; fd 1 (print, warnings of any library) becomes
    # stderr, so nothing else can ever write into the protocol.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(out_fd, "wb", buffering=0)
    if "--prepare" not in sys.argv:  # else ready once prepared (the first message)
        out.write(_encode(("ready", os.getpid())))
    children: dict[int, int] = {}  # pid → build id
    pending = b""
    stdin_open = True
    while stdin_open or children:
        readable, _, _ = select.select([0, wake_r] if stdin_open else [wake_r], [], [], 1.0)
        if wake_r in readable:
            os.read(wake_r, 4096)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            build_id = children.pop(pid, None)
            _kill_group(pid)  # whatever the build started and left behind
            if build_id is not None:
                out.write(_encode(("exited", build_id, os.waitstatus_to_exitcode(status))))
        if 0 not in readable:
            continue
        data = os.read(0, 1 << 16)
        if not data:  # the server closed the pipe or died: nothing may outlive it
            stdin_open = False
            for pid in children:
                _kill_group(pid)
            continue
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            message = _decode(line)
            if message[0] == "prepare":
                try:
                    build.prepare_process(message[1])
                except Exception:  # noqa: BLE001 -- only a head start; each build opens its own
                    traceback.print_exc()
                out.write(_encode(("ready", os.getpid())))
            elif message[0] == "start":
                _, build_id, settings, claim = message
                launcher_pid = os.getpid()
                pid = os.fork()
                if pid == 0:
                    for fd in (wake_r, wake_w, out_fd):  # the launcher's, not the build's
                        os.close(fd)
                    _child(build_id, settings, claim, launcher_pid)
                try:  # as the child does: whichever runs first, the group exists from here on
                    os.setpgid(pid, pid)
                except OSError:  # the child did it already (or died)
                    pass
                children[pid] = build_id
                out.write(_encode(("started", build_id, pid)))
            elif message[0] == "kill":
                for pid, build_id in children.items():
                    if build_id == message[1]:
                        _kill_group(pid)
