"""EventBridge schedule expressions for the local runtime: when does a schedule fire next?

Understands the three forms a template can hold, in UTC:

* ``rate(5 minutes)``: every period (unit singular for 1, plural otherwise, as AWS requires);
* ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``: the Amazon EventBridge dialect
  (Quartz-like: day-of-week 1-7 with 1 = Sunday, exactly one of the day fields ``?``, a year field,
  and ``L``, ``W`` and ``#``);
* ``at(yyyy-mm-ddThh:mm:ss)``: an EventBridge Scheduler one-time schedule.

``parse`` refuses a bad expression with a ``ValueError`` naming the field at fault, so the runtime
can refuse a bad template at start-up; ``next_run`` answers the next firing strictly after a time.
A cron schedule is resolved field by field (year, month, day, then time of day), never minute by minute.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Literal

__all__ = ["At", "Cron", "DayRule", "Rate", "Schedule", "next_run", "parse"]

UTC = datetime.UTC

type Schedule = Rate | Cron | At


def next_run(expression: str, after: datetime.datetime) -> datetime.datetime | None:
    """The first time strictly after ``after`` at which ``expression`` fires (None: never again)."""
    return parse(expression).next_run(after)


def parse(expression: str) -> Schedule:
    """Read a schedule expression; ``ValueError`` says what is wrong with an invalid one."""
    found = re.fullmatch(r"(rate|cron|at)\((.*)\)", expression.strip(), re.DOTALL)
    if not found:
        raise ValueError(f"schedule expression {expression!r}: expected rate(...), cron(...) or at(...)")
    kind, body = found.group(1), found.group(2).strip()
    try:
        if kind == "rate":
            return Rate(expression, _rate_period(body))
        if kind == "at":
            return At(expression, _at_time(body))
        return _cron(expression, body)
    except ValueError as exc:
        raise ValueError(f"schedule expression {expression!r}: {exc}") from None


def _utc(after: datetime.datetime) -> datetime.datetime:
    if after.utcoffset() is None:
        raise ValueError("next_run needs a timezone-aware datetime")
    return after.astimezone(UTC)


# ---------------------------------------------------------------- rate and at


@dataclass(frozen=True, slots=True)
class Rate:
    """``rate(value unit)``: fires every ``period``."""

    expression: str
    period: datetime.timedelta

    def next_run(self, after: datetime.datetime) -> datetime.datetime | None:
        """One period after ``after``."""
        return _utc(after) + self.period


_RATE_UNITS = {"minute": datetime.timedelta(minutes=1), "hour": datetime.timedelta(hours=1), "day": datetime.timedelta(days=1)}


def _rate_period(body: str) -> datetime.timedelta:
    found = re.fullmatch(r"([0-9]+)\s+([a-z]+)", body)
    if not found:
        raise ValueError("rate needs 'value unit', e.g. rate(5 minutes)")
    value, unit = int(found.group(1)), found.group(2)
    if value < 1:
        raise ValueError(f"rate value must be a positive integer, not {value}")
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise ValueError(f"rate unit {unit!r} is not minute(s), hour(s) or day(s)")
    if (value == 1) != (unit == singular):
        raise ValueError(f"rate unit must be {singular!r} for a value of 1, else {singular + 's'!r} (got {value} {unit})")
    return value * _RATE_UNITS[singular]


@dataclass(frozen=True, slots=True)
class At:
    """``at(yyyy-mm-ddThh:mm:ss)``: fires once, at ``when`` (UTC)."""

    expression: str
    when: datetime.datetime

    def next_run(self, after: datetime.datetime) -> datetime.datetime | None:
        """``when`` if it is still to come, else None."""
        return self.when if self.when > _utc(after) else None


def _at_time(body: str) -> datetime.datetime:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}", body):
        raise ValueError(f"at needs yyyy-mm-ddThh:mm:ss, not {body!r}")
    try:
        return datetime.datetime.strptime(body, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"at time {body!r} is not a real date and time") from None


# ---------------------------------------------------------------- cron


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    max_step: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    wraps: bool = True  # a range such as 22-2 runs over the end back to the start

    def value(self, token: str, text: str) -> int:
        if token.isdecimal() and token.isascii():
            number = int(token)
        elif token in self.names:
            number = self.low + self.names.index(token)
        else:
            raise ValueError(f"{self.name} field {text!r}: {token!r} is not a value")
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name} field {text!r}: {number} is out of range {self.low}-{self.high}")
        return number

    def values(self, text: str) -> frozenset[int]:
        """The values a list of ``*``, ``a``, ``a-b`` and ``.../step`` items selects."""
        values: set[int] = set()
        span = self.high - self.low + 1
        for item in text.split(","):
            found = re.fullmatch(r"(\*|[0-9A-Z]+)(?:-([0-9A-Z]+))?(?:/([0-9]+))?", item)
            if not found or (found.group(1) == "*" and found.group(2)):
                raise ValueError(f"{self.name} field {text!r}: cannot read {item!r}")
            start, end, step_text = found.groups()
            step = int(step_text or 1)
            if not 1 <= step <= self.max_step:
                raise ValueError(f"{self.name} field {text!r}: increment {step} is out of range 1-{self.max_step}")
            if start == "*":
                first, last = self.low, self.high
            else:
                first = self.value(start, text)
                last = self.value(end, text) if end else (self.high if step_text else first)
            if last < first and not self.wraps:
                raise ValueError(f"{self.name} field {text!r}: range {first}-{last} runs backwards")
            values.update(self.low + (first - self.low + k) % span for k in range(0, (last - first) % span + 1, step))
        return frozenset(values)


_MINUTES = _Field("minutes", 0, 59, max_step=59)
_HOURS = _Field("hours", 0, 23, max_step=23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, max_step=31)
_MONTH = _Field("month", 1, 12, max_step=12, names=("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, max_step=7, names=("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))
_YEAR = _Field("year", 1970, 2199, max_step=229, wraps=False)


def _weekday(aws_day: int) -> int:
    """AWS's day-of-week (1 = Sunday … 7 = Saturday) as Python's (Monday = 0 … Sunday = 6)."""
    return (aws_day + 5) % 7


@dataclass(frozen=True, slots=True)
class DayRule:
    """The two day fields together: which days of a month fire. Weekdays use Python's numbering (Monday = 0)."""

    kind: Literal["dates", "weekdays", "last_day", "last_weekday", "nearest_weekday", "last_of", "nth_of"]
    values: frozenset[int] = frozenset()  # "dates": days of the month; "weekdays": weekdays
    day: int = 0  # "nearest_weekday": nW's day of the month; "last_of", "nth_of": the weekday
    nth: int = 0  # "nth_of": k in n#k

    def days(self, first_weekday: int, length: int) -> tuple[int, ...]:
        """The firing days, in order, of a month of ``length`` days whose 1st falls on ``first_weekday``."""
        match self.kind:
            case "dates":
                return tuple(sorted(d for d in self.values if d <= length))
            case "weekdays":
                return tuple(d for d in range(1, length + 1) if (first_weekday + d - 1) % 7 in self.values)
            case "last_day":
                return (length,)
            case "last_weekday":
                return (_nearest_weekday(length, first_weekday, length),)
            case "nearest_weekday":
                return (_nearest_weekday(self.day, first_weekday, length),) if self.day <= length else ()
            case "last_of":
                return (length - ((first_weekday + length - 1) % 7 - self.day) % 7,)
            case "nth_of":
                day = 1 + (self.day - first_weekday) % 7 + 7 * (self.nth - 1)
                return (day,) if day <= length else ()


def _nearest_weekday(day: int, first_weekday: int, length: int) -> int:
    """``W``: the Monday-Friday day nearest ``day``, never leaving the month."""
    weekday = (first_weekday + day - 1) % 7
    if weekday == 5:  # Saturday: the Friday before, or the Monday after if the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before if the last day
        return day + 1 if day < length else day - 2
    return day


@functools.lru_cache(maxsize=4096)
def _month_days(rule: DayRule, first_weekday: int, length: int) -> tuple[int, ...]:
    return rule.days(first_weekday, length)


def _day_rule(dom: str, dow: str) -> DayRule:
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"exactly one of day-of-month ({dom!r}) and day-of-week ({dow!r}) must be '?'")
    if dow == "?":
        if dom == "L":
            return DayRule("last_day")
        if dom == "LW":
            return DayRule("last_weekday")
        if dom.endswith("W"):
            return DayRule("nearest_weekday", day=_DAY_OF_MONTH.value(dom[:-1], dom))
        return DayRule("dates", values=_DAY_OF_MONTH.values(dom))
    if dow == "L":  # the last day of the week: Saturday
        return DayRule("weekdays", values=frozenset({5}))
    if dow.endswith("L"):
        return DayRule("last_of", day=_weekday(_DAY_OF_WEEK.value(dow[:-1], dow)))
    if "#" in dow:
        weekday, _, nth = dow.partition("#")
        if nth not in {"1", "2", "3", "4", "5"}:
            raise ValueError(f"day-of-week field {dow!r}: '#' takes one weekday and a week 1-5, e.g. 2#1")
        return DayRule("nth_of", day=_weekday(_DAY_OF_WEEK.value(weekday, dow)), nth=int(nth))
    return DayRule("weekdays", values=frozenset(_weekday(v) for v in _DAY_OF_WEEK.values(dow)))


_MONTH_LENGTHS = {month: (28, 29) if month == 2 else (calendar.monthrange(2001, month)[1],) for month in range(1, 13)}


@dataclass(frozen=True, slots=True)
class Cron:
    """``cron(...)``: the allowed values of each field, sorted, and the rule for days."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: DayRule
    months: tuple[int, ...]  # only months in which ``days`` can fire at all
    years: tuple[int, ...]

    def next_run(self, after: datetime.datetime) -> datetime.datetime | None:
        """The first whole minute strictly after ``after`` that every field allows (None: none is left)."""
        start = _utc(after).replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        for year in self.years[bisect_left(self.years, start.year) :]:
            for month in self.months[bisect_left(self.months, start.month) if year == start.year else 0 :]:
                this_month = (year, month) == (start.year, start.month)
                days = _month_days(self.days, *calendar.monthrange(year, month))
                for day in days[bisect_left(days, start.day) if this_month else 0 :]:
                    today = this_month and day == start.day
                    time = self._time_from(start.hour, start.minute) if today else (self.hours[0], self.minutes[0])
                    if time is not None:
                        return datetime.datetime(year, month, day, *time, tzinfo=UTC)
        return None

    def _time_from(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The first allowed (hour, minute) at or after ``hour:minute`` on the same day."""
        at = bisect_left(self.hours, hour)
        if at < len(self.hours) and self.hours[at] == hour:
            later = bisect_left(self.minutes, minute)
            if later < len(self.minutes):
                return hour, self.minutes[later]
            at += 1
        return (self.hours[at], self.minutes[0]) if at < len(self.hours) else None


def _cron(expression: str, body: str) -> Cron:
    fields = body.upper().split()
    if len(fields) != 6:
        raise ValueError(f"cron needs 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), got {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    days = _day_rule(dom, dow)
    months = sorted(_MONTH.values(month))
    return Cron(
        expression,
        minutes=tuple(sorted(_MINUTES.values(minutes))),
        hours=tuple(sorted(_HOURS.values(hours))),
        days=days,
        # a month in which the day rule never fires (30 in February) is dropped, so the search never spins on it
        months=tuple(m for m in months if any(_month_days(days, w, n) for w in range(7) for n in _MONTH_LENGTHS[m])),
        years=tuple(sorted(_YEAR.values(year))),
    )
