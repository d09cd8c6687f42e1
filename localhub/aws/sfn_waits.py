"""Step Functions' ``Retry`` waits, scaled on the local runtime.

A workflow that rides out a target's outage of minutes retries for minutes: on AWS that is what it
should do, and ``make run`` keeps those waits as written (scale 1). A test or a fault run that
drives the same definition through a failure would wait those minutes too, so the local runtime
can run every ``Retry`` interval at a fraction of its length: ``--sfn-retry-scale 0.01`` on the
command line, :func:`scaled` in a test. The definitions are not changed: attempts, backoff, the
``MaxDelaySeconds`` cap and the jitter are moto's ASL interpreter's, computed as on AWS; only the
sleep between two attempts is shortened.

moto's retrier sleeps through the ``time`` module it imported (``retrier_decl.time.sleep``); that
one name is replaced by a clock whose ``sleep`` multiplies by the current scale. Upstream, this would
be an option of moto's Step Functions backend (as ``execute_state_machine`` is).
"""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

_lock = threading.Lock()
_scale = 1.0


def _scaled_sleep(seconds: float) -> None:
    time.sleep(seconds * _scale)


# the module moto's retrier sees as ``time``: the real one, but for ``sleep``
_clock = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("__")})
_clock.sleep = _scaled_sleep


def set_scale(factor: float) -> None:
    """Run every ``Retry`` wait at ``factor`` times its length (1: as on AWS)."""
    if not 0 <= factor <= 1:
        raise ValueError(f"a Retry wait scale is between 0 and 1, not {factor}")
    global _scale
    with _lock:
        _scale = factor
        vars(retrier_decl)["time"] = _clock


def scale() -> float:
    return _scale


def retry_clock() -> types.ModuleType | types.SimpleNamespace:
    """What moto's retrier calls ``time`` now."""
    clock: types.ModuleType | types.SimpleNamespace = vars(retrier_decl)["time"]
    return clock


@contextmanager
def scaled(factor: float) -> Iterator[None]:
    """Within the block, ``Retry`` waits run at ``factor`` times their length."""
    before = _scale
    set_scale(factor)
    try:
        yield
    finally:
        set_scale(before)
