"""The clock of a scheduled run: the time its schedule fired at, as the run goes on.

EventBridge gives a scheduled event the time the schedule fired (``time``, to the second). A run that
decides by time (what is overdue, what a stopped run left) works as of that time plus the time it has
taken, or as of now when that is later: on AWS the event's time is a moment before the invocation (or
earlier, for an asynchronous invocation retried), so the run's clock is now. A runtime that compresses
time (the local runtime, whose fault runs make every visibility timeout pass at once) fires a schedule
at the later time its queues stand for, and the run decides as it would at that time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

Clock = Callable[[], datetime]


def scheduled_time(event: Mapping[str, Any] | None) -> datetime | None:
    """The time a scheduled event fired at (UTC), or None when the event carries none (an invocation by hand)."""
    value = (event or {}).get("time")
    if not isinstance(value, str):
        return None
    try:
        fired = datetime.fromisoformat(value)
    except ValueError:
        return None
    return fired if fired.tzinfo is not None else fired.replace(tzinfo=UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def scheduled_clock(event: Mapping[str, Any] | None, *, now: Clock = _utc_now) -> Clock:
    """Now, or, when the event's time is later than now, the event's time plus the time since this call."""
    fired = scheduled_time(event)
    ahead = fired - now() if fired is not None else timedelta(0)
    if ahead <= timedelta(0):
        return now
    return lambda: now() + ahead


__all__ = ["Clock", "scheduled_clock", "scheduled_time"]
