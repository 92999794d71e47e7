"""`BackgroundLoop`: the start/wake/stop scaffold of the server's background loops (the build
executor, the kernel registry).

A loop runs `tick()` whenever it is woken (`wake()`, from any thread) or `interval` seconds have
passed. It stops on a flag, never on a cancel alone: Python 3.11's `asyncio.wait_for` can swallow
a cancel that arrives in the same loop iteration as the event it waits for (a build ending as the
server stops), and a loop relying on the cancel then runs on. `stop()` sets the flag, wakes the
loop and waits for it to end; it cancels the task only if the current tick outlasts
`stop_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging


class BackgroundLoop:
    """Mixin for a LoggingConfigurable (it uses `self.log`): subclasses set `loop_name`,
    implement `tick()`, and may override `setup()` and `interval`."""

    loop_name = "conda-store background loop"
    tick_at_start = True  # run a tick as soon as the loop starts, or only once woken or timed out
    stop_timeout = 30.0  # seconds `stop()` waits for the current tick before cancelling it

    log: logging.Logger | logging.LoggerAdapter
    _loop: asyncio.AbstractEventLoop | None = None
    _wakeup: asyncio.Event | None = None
    _task: asyncio.Task[None] | None = None
    _stopping = False

    @property
    def interval(self) -> float:
        """Seconds the loop waits for a wake before it ticks anyway (may depend on state)."""
        return float(getattr(self, "poll_interval", 1.0))

    async def setup(self) -> None:
        """Runs in `start()`, before the first tick; wakes meanwhile are not lost."""

    async def tick(self) -> None:
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._stopping = False
        await self.setup()
        self._task = asyncio.create_task(self._run(), name=self.loop_name)

    def wake(self) -> None:
        """Tick now (thread-safe); does nothing before `start()`."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wakeup.set)

    async def stop(self) -> None:
        """Stop the loop: the flag first, then a wake, then wait for the current tick to end."""
        self._stopping = True
        task = self._task
        if task is None:
            return
        if self._wakeup is not None:
            self._wakeup.set()  # stop() runs on the loop's own thread
        # (asyncio.wait, unlike wait_for, never cancels what it waits for)
        done, _ = await asyncio.wait({task}, timeout=self.stop_timeout)
        if not done:
            self.log.warning(
                "%s: still busy %.0f s after stop; cancelling it", self.loop_name, self.stop_timeout
            )
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None

    # -- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._wakeup is not None
        if self.tick_at_start:
            await self._tick_safely()
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
            self._wakeup.clear()
            if self._stopping:
                break
            await self._tick_safely()

    async def _tick_safely(self) -> None:
        try:
            await self.tick()
        except Exception:  # a bad tick (disk full, database hiccup) must not end the loop
            self.log.exception("%s: error in a pass; it runs again", self.loop_name)
