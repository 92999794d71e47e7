"""The background-loop scaffold (the executor's and the kernel registry's), and a pluggable
executor (`CondaStoreApp.executor_class`)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from traitlets import Float
from traitlets.config import Config, LoggingConfigurable

from conda_store_jupyter.db import BuildStatus
from conda_store_jupyter.executor import BuildExecutor, Executor
from conda_store_jupyter.loops import BackgroundLoop

from .test_api import Client


class Counter(BackgroundLoop, LoggingConfigurable):
    loop_name = "test loop"
    poll_interval = Float(30.0)

    def __init__(self, fail_first: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.ticks = 0
        self.fail_first = fail_first
        self.ticked = threading.Event()

    async def tick(self) -> None:
        self.ticks += 1
        self.ticked.set()
        if self.ticks <= self.fail_first:
            raise RuntimeError("a bad tick")


def test_stops_when_woken_as_it_stops():
    """The wake and the stop in the same loop iteration: the loop ends on its flag (Python
    3.11's wait_for may swallow a cancel arriving then; the scaffold never relies on one)."""

    async def main() -> None:
        for _ in range(5):
            loop = Counter()
            await loop.start()
            await asyncio.sleep(0.05)  # its first tick is done: it waits for its event now
            loop._wakeup.set()  # what `wake` does, from another thread, at that moment
            stopping = asyncio.ensure_future(loop.stop())
            done, _ = await asyncio.wait({stopping}, timeout=10)
            if not done:
                loop._task.cancel()
            assert done, "the loop did not stop"
            assert loop._task is None

    asyncio.run(main())


def test_stop_waits_for_the_tick_and_cancels_only_a_stuck_one():
    class Slow(Counter):
        async def tick(self) -> None:
            await super().tick()
            await asyncio.sleep(self.delay)

    async def main() -> None:
        loop = Slow()
        loop.delay = 0.3
        await loop.start()
        await asyncio.sleep(0.05)
        task = loop._task
        await loop.stop()  # waits for the tick in progress
        assert task.done() and not task.cancelled()

        stuck = Slow()
        stuck.delay, stuck.stop_timeout = 60, 0.2
        await stuck.start()
        task = stuck._task
        started = time.monotonic()
        await stuck.stop()
        assert task.cancelled() and time.monotonic() - started < 5

    asyncio.run(main())


def test_a_failing_tick_does_not_end_the_loop(caplog):
    async def main() -> Counter:
        loop = Counter(fail_first=2)
        await loop.start()
        for _ in range(3):
            await asyncio.sleep(0.05)
            loop.wake()
        await asyncio.sleep(0.05)
        assert not loop._task.done()
        await loop.stop()
        return loop

    loop = asyncio.run(main())
    assert loop.ticks >= 3  # two failures, and it went on
    assert caplog.text.count("test loop: error in a pass") == 2


def test_wake_from_another_thread_ticks_soon():
    async def main() -> None:
        loop = Counter(poll_interval=30)
        await loop.start()
        await asyncio.sleep(0.05)
        assert loop.ticks == 1  # the tick at start
        loop.ticked.clear()
        started = time.monotonic()
        waker = threading.Thread(target=loop.wake)
        waker.start()
        waker.join()
        ticked = await asyncio.to_thread(loop.ticked.wait, 5)
        assert ticked and time.monotonic() - started < 2 and loop.ticks == 2
        await loop.stop()

    asyncio.run(main())


def test_wake_before_start_and_stop_without_start_do_nothing():
    loop = Counter()
    loop.wake()
    asyncio.run(loop.stop())
    assert loop.ticks == 0


def test_the_executor_base_is_abstract():
    with pytest.raises(TypeError):
        Executor(sessions=None, settings=None)
    assert issubclass(BuildExecutor, Executor) and issubclass(BuildExecutor, BackgroundLoop)


# -- a pluggable executor -------------------------------------------------------------------


class RecordingExecutor(Executor):
    """Runs nothing: records what the app calls."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls: list[str] = []

    def recover(self) -> None:
        self.calls.append("recover")

    async def start(self) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")

    def wake(self) -> None:
        self.calls.append("wake")

    @property
    def running_build_ids(self) -> list[int]:
        return []


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    jp_server_config.CondaStoreApp.executor_class = f"{__name__}.RecordingExecutor"
    return jp_server_config


async def test_the_configured_executor_class_is_used(jp_fetch, jp_started_server):
    app = next(iter(jp_started_server.extension_manager.extension_apps["conda_store_jupyter"]))
    executor = app.executor
    assert type(executor) is RecordingExecutor
    assert executor.calls == ["recover", "start"]
    assert executor.sessions is app.kernels.sessions and executor.on_build_end == app.kernels.wake

    api = Client(jp_fetch, jp_started_server)
    build_id = await api.submit("demo", "gamma")
    assert executor.calls[-1] == "wake"
    assert api.service.get_build(build_id).status == BuildStatus.QUEUED  # nothing ran it
    await app.stop_extension()
    assert executor.calls[-1] == "stop"
