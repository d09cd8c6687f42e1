"""localhub.server: a mapping's pollers scale with its queue, as Lambda's do. The first always polls;
the others only while the queue gives messages, until the first finds it empty with no batch of the
mapping being handled."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from localhub.lambda_.event_sources import PollResult
from localhub.server import LocalRuntime


@dataclass
class Step:
    received: int = 0
    invoking: int = 0  # batches of the mapping being handled while this poll runs


@dataclass
class ScriptedSource:
    """An event source mapping whose polls answer as scripted; the runtime stops after the last."""

    runtime: LocalRuntime
    steps: list[Step]
    name: str = "Function.Queue"
    window: int = 0
    busy: threading.Event = field(default_factory=threading.Event)
    busy_before_each_poll: list[bool] = field(default_factory=list)
    invoking: int = 0

    def poll_once(self, wait_seconds: int = 0) -> PollResult:
        self.busy_before_each_poll.append(self.busy.is_set())
        step = self.steps.pop(0)
        self.invoking = step.invoking
        if not self.steps:
            self.runtime._stopping.set()
        return PollResult(received=step.received)


class CountingEvent(threading.Event):
    """Never set; stops the runtime after ``waits`` waits."""

    def __init__(self, runtime: LocalRuntime, waits: int) -> None:
        super().__init__()
        self.runtime, self.left, self.waited = runtime, waits, 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waited += 1
        self.left -= 1
        if self.left == 0:
            self.runtime._stopping.set()
        return False


def _runtime() -> LocalRuntime:
    runtime = object.__new__(LocalRuntime)  # only what a poller uses
    runtime._stopping = threading.Event()
    runtime.worker_errors = []
    return runtime


def test_the_first_poller_marks_the_queue_busy_and_idle_again() -> None:
    runtime = _runtime()
    source = ScriptedSource(runtime, [Step(received=3), Step(invoking=1), Step(received=2), Step(), Step()])
    runtime._poll_forever(source, 0)  # type: ignore[arg-type]
    # busy once it gave messages; still busy after an empty poll while a batch was handled; idle after
    # an empty poll with none handled
    assert source.busy_before_each_poll == [False, True, True, True, False]
    assert not source.busy.is_set()


def test_the_other_pollers_poll_only_while_the_queue_is_busy_and_never_mark_it_idle() -> None:
    runtime = _runtime()
    idle = ScriptedSource(runtime, [Step(received=1)])
    idle.busy = CountingEvent(runtime, waits=3)
    runtime._poll_forever(idle, 1)  # type: ignore[arg-type]
    assert idle.busy_before_each_poll == []  # three waits for the queue to be busy, no poll
    assert idle.busy.waited == 3

    runtime = _runtime()
    busy = ScriptedSource(runtime, [Step(received=2), Step(), Step()])
    busy.busy.set()
    runtime._poll_forever(busy, 1)  # type: ignore[arg-type]
    assert busy.busy_before_each_poll == [True, True, True]  # only the first poller marks it idle
