"""The local runtime's scale for Step Functions' Retry waits (localhub.aws.sfn_waits)."""

from __future__ import annotations

import time

import pytest

from localhub.aws import sfn_waits


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    monkeypatch.setattr(time, "sleep", calls.append)
    return calls


def test_a_retry_wait_runs_at_the_scale_set_and_as_written_again_after_the_block(slept: list[float]) -> None:
    # Given moto's retrier, which sleeps through its module's ``time``
    # When a retry wait of 120 s runs inside a block scaled to 1/100, then one after it
    with sfn_waits.scaled(0.01):
        sfn_waits.retry_clock().sleep(120)
    sfn_waits.retry_clock().sleep(120)
    # Then the first slept 1.2 s and the second its whole length
    assert slept == [pytest.approx(1.2), 120]
    assert sfn_waits.scale() == 1.0


def test_the_rest_of_the_time_module_is_the_real_one() -> None:
    sfn_waits.set_scale(1.0)
    assert sfn_waits.retry_clock().monotonic is time.monotonic
    assert sfn_waits.retry_clock().time is time.time


@pytest.mark.parametrize("factor", [-0.1, 1.5])
def test_a_scale_outside_zero_to_one_is_refused(factor: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        sfn_waits.set_scale(factor)
