"""EventBridge schedule expressions: rate, cron (AWS dialect) and at, with exact expected firings."""

from __future__ import annotations

import datetime

import pytest

from localhub.aws.schedules import At, Cron, Rate, next_run, parse

UTC = datetime.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# 2024-05-15 is a Wednesday; 2024-05-17 a Friday; 2024-05-20 a Monday.

AWS_DOCUMENTATION_EXAMPLES = [
    # 10:00 UTC every day
    ("cron(0 10 * * ? *)", utc(2024, 5, 15, 9, 59, 59), utc(2024, 5, 15, 10, 0)),
    ("cron(0 10 * * ? *)", utc(2024, 5, 15, 10, 0), utc(2024, 5, 16, 10, 0)),  # strictly after
    # 12:15 UTC every day, across a year end
    ("cron(15 12 * * ? *)", utc(2024, 5, 15, 12, 14), utc(2024, 5, 15, 12, 15)),
    ("cron(15 12 * * ? *)", utc(2024, 12, 31, 12, 15), utc(2025, 1, 1, 12, 15)),
    # 18:00 UTC Monday to Friday
    ("cron(0 18 ? * MON-FRI *)", utc(2024, 5, 15, 18, 0), utc(2024, 5, 16, 18, 0)),
    ("cron(0 18 ? * MON-FRI *)", utc(2024, 5, 17, 18, 0), utc(2024, 5, 20, 18, 0)),  # Friday -> Monday
    # 08:00 UTC on the 1st of every month
    ("cron(0 8 1 * ? *)", utc(2024, 1, 1, 8, 0), utc(2024, 2, 1, 8, 0)),
    ("cron(0 8 1 * ? *)", utc(2024, 12, 15), utc(2025, 1, 1, 8, 0)),
    # every 15 minutes
    ("cron(0/15 * * * ? *)", utc(2024, 5, 15, 10, 7, 30), utc(2024, 5, 15, 10, 15)),
    ("cron(0/15 * * * ? *)", utc(2024, 5, 15, 10, 45), utc(2024, 5, 15, 11, 0)),
    ("cron(0/15 * * * ? *)", utc(2024, 2, 28, 23, 45), utc(2024, 2, 29, 0, 0)),  # leap day
    # every 10 minutes Monday to Friday
    ("cron(0/10 * ? * MON-FRI *)", utc(2024, 5, 15, 13, 21), utc(2024, 5, 15, 13, 30)),
    ("cron(0/10 * ? * MON-FRI *)", utc(2024, 5, 17, 23, 50), utc(2024, 5, 20, 0, 0)),
    # every 5 minutes Monday to Friday between 08:00 and 17:55
    ("cron(0/5 8-17 ? * MON-FRI *)", utc(2024, 5, 15, 8, 2), utc(2024, 5, 15, 8, 5)),
    ("cron(0/5 8-17 ? * MON-FRI *)", utc(2024, 5, 15, 17, 50), utc(2024, 5, 15, 17, 55)),
    ("cron(0/5 8-17 ? * MON-FRI *)", utc(2024, 5, 15, 17, 55), utc(2024, 5, 16, 8, 0)),
    ("cron(0/5 8-17 ? * MON-FRI *)", utc(2024, 5, 17, 17, 56), utc(2024, 5, 20, 8, 0)),
    ("cron(0/5 8-17 ? * MON-FRI *)", utc(2024, 5, 18, 12, 0), utc(2024, 5, 20, 8, 0)),  # from a Saturday
    # 09:00 UTC on the first Monday of every month (May 2024 starts on a Wednesday, June on a Saturday)
    ("cron(0 9 ? * 2#1 *)", utc(2024, 5, 1), utc(2024, 5, 6, 9, 0)),
    ("cron(0 9 ? * 2#1 *)", utc(2024, 5, 6, 9, 0), utc(2024, 6, 3, 9, 0)),
    ("cron(0 9 ? * 2#1 *)", utc(2024, 6, 30), utc(2024, 7, 1, 9, 0)),  # July 2024 starts on a Monday
]


@pytest.mark.parametrize(("expression", "after", "expected"), AWS_DOCUMENTATION_EXAMPLES)
def test_aws_documentation_examples(expression: str, after: datetime.datetime, expected: datetime.datetime) -> None:
    assert next_run(expression, after) == expected


SPECIAL_CHARACTERS = [
    # L in day-of-month: the last day, across month ends and leap years
    ("cron(0 0 L * ? *)", utc(2024, 2, 1), utc(2024, 2, 29)),
    ("cron(0 0 L * ? *)", utc(2023, 2, 1), utc(2023, 2, 28)),
    ("cron(0 0 L * ? *)", utc(2024, 4, 30), utc(2024, 5, 31)),
    ("cron(30 23 L * ? *)", utc(2024, 12, 31, 23, 30), utc(2025, 1, 31, 23, 30)),
    # LW: the last weekday of the month
    ("cron(0 12 LW * ? *)", utc(2024, 3, 1), utc(2024, 3, 29, 12, 0)),  # the 31st is a Sunday
    ("cron(0 12 LW * ? *)", utc(2024, 8, 1), utc(2024, 8, 30, 12, 0)),  # the 31st is a Saturday
    ("cron(0 12 LW * ? *)", utc(2024, 2, 1), utc(2024, 2, 29, 12, 0)),  # leap day, a Thursday
    ("cron(0 12 LW * ? *)", utc(2024, 8, 30, 12, 0), utc(2024, 9, 30, 12, 0)),  # Monday 30 September
    ("cron(0 12 LW * ? *)", utc(2026, 2, 1), utc(2026, 2, 27, 12, 0)),  # the 28th is a Saturday
    # nW: the weekday nearest the nth, never leaving the month
    ("cron(0 9 15W * ? *)", utc(2024, 5, 1), utc(2024, 5, 15, 9, 0)),  # a Wednesday: that day
    ("cron(0 9 15W * ? *)", utc(2024, 6, 1), utc(2024, 6, 14, 9, 0)),  # a Saturday: the Friday before
    ("cron(0 9 15W * ? *)", utc(2024, 9, 1), utc(2024, 9, 16, 9, 0)),  # a Sunday: the Monday after
    ("cron(0 9 1W * ? *)", utc(2024, 5, 15), utc(2024, 6, 3, 9, 0)),  # 1 June is a Saturday: Monday the 3rd
    ("cron(0 9 1W * ? *)", utc(2024, 12, 15), utc(2025, 1, 1, 9, 0)),  # 1 January 2025 is a Wednesday
    ("cron(0 9 31W * ? *)", utc(2024, 3, 1), utc(2024, 3, 29, 9, 0)),  # Sunday the 31st: Friday the 29th
    ("cron(0 9 31W * ? *)", utc(2024, 4, 1), utc(2024, 5, 31, 9, 0)),  # April has no 31st
    ("cron(0 9 30W * ? *)", utc(2024, 1, 31), utc(2024, 3, 29, 9, 0)),  # no 30 February; 30 March is a Saturday
    # nL in day-of-week: the last such weekday of the month (6 = Friday)
    ("cron(0 17 ? * 6L *)", utc(2024, 5, 1), utc(2024, 5, 31, 17, 0)),  # the 31st is a Friday
    ("cron(0 17 ? * 6L *)", utc(2024, 2, 1), utc(2024, 2, 23, 17, 0)),  # leap day is a Thursday
    ("cron(0 17 ? * FRIL *)", utc(2024, 5, 31, 17, 0), utc(2024, 6, 28, 17, 0)),
    # L alone in day-of-week: the last day of the week, Saturday
    ("cron(0 6 ? * L *)", utc(2024, 5, 15), utc(2024, 5, 18, 6, 0)),
    # n#k: the kth such weekday; a fifth one only in months that have it
    ("cron(0 9 ? * 6#3 *)", utc(2024, 5, 1), utc(2024, 5, 17, 9, 0)),
    ("cron(0 9 ? * SUN#5 *)", utc(2024, 5, 1), utc(2024, 6, 30, 9, 0)),  # May 2024 has four Sundays
    ("cron(0 0 ? 2 2#5 *)", utc(2024, 1, 1), utc(2044, 2, 29)),  # a fifth Monday in February: 2016, then 2044
]


@pytest.mark.parametrize(("expression", "after", "expected"), SPECIAL_CHARACTERS)
def test_special_characters(expression: str, after: datetime.datetime, expected: datetime.datetime) -> None:
    assert next_run(expression, after) == expected


LISTS_RANGES_AND_STEPS = [
    ("cron(30 6 1 JAN,JUL ? *)", utc(2024, 1, 1, 6, 30), utc(2024, 7, 1, 6, 30)),
    ("cron(30 6 1 jan,jul ? *)", utc(2024, 7, 1, 6, 30), utc(2025, 1, 1, 6, 30)),  # names in any case
    ("cron(0 12 ? * mon,wed,fri *)", utc(2024, 5, 15, 12, 0), utc(2024, 5, 17, 12, 0)),
    ("cron(0 12 ? * 1,7 *)", utc(2024, 5, 15), utc(2024, 5, 18, 12, 0)),  # 1 = Sunday, 7 = Saturday
    ("cron(0 12 ? * 1 *)", utc(2024, 5, 18, 12, 0), utc(2024, 5, 19, 12, 0)),  # 1 = Sunday
    ("cron(1/10 * * * ? *)", utc(2024, 5, 15, 10, 1), utc(2024, 5, 15, 10, 11)),  # 1, 11, 21, ... as AWS says
    ("cron(1/10 * * * ? *)", utc(2024, 5, 15, 10, 51), utc(2024, 5, 15, 11, 1)),
    ("cron(*/20 * * * ? *)", utc(2024, 5, 15, 10, 41), utc(2024, 5, 15, 11, 0)),
    ("cron(10-20/5 9 * * ? *)", utc(2024, 5, 15, 9, 15), utc(2024, 5, 15, 9, 20)),
    ("cron(10-20/5 9 * * ? *)", utc(2024, 5, 15, 9, 20), utc(2024, 5, 16, 9, 10)),
    ("cron(0 0 1-31/2 * ? *)", utc(2024, 1, 31), utc(2024, 2, 1)),  # odd days: 31 January, then 1 February
    ("cron(0 0 1 1/3 ? *)", utc(2024, 1, 1), utc(2024, 4, 1)),  # quarterly
    ("cron(0 0 1 1 ? 2025/5)", utc(2024, 6, 1), utc(2025, 1, 1)),
    ("cron(0 0 1 1 ? 2025/5)", utc(2025, 1, 1), utc(2030, 1, 1)),
    # ranges that run past the field's end wrap round, as in AWS's "0/30 20-2" example
    ("cron(0/30 20-2 ? * MON-FRI *)", utc(2024, 5, 15, 19, 0), utc(2024, 5, 15, 20, 0)),
    ("cron(0/30 20-2 ? * MON-FRI *)", utc(2024, 5, 15, 23, 30), utc(2024, 5, 16, 0, 0)),
    ("cron(0/30 20-2 ? * MON-FRI *)", utc(2024, 5, 16, 2, 30), utc(2024, 5, 16, 20, 0)),
    ("cron(0/30 20-2 ? * MON-FRI *)", utc(2024, 5, 17, 23, 30), utc(2024, 5, 20, 0, 0)),  # not Saturday's small hours
    ("cron(0 9 ? * FRI-MON *)", utc(2024, 5, 15), utc(2024, 5, 17, 9, 0)),  # Friday, Saturday, Sunday, Monday
    ("cron(0 9 ? * FRI-MON *)", utc(2024, 5, 20, 9, 0), utc(2024, 5, 24, 9, 0)),
    ("cron(0 0 1 NOV-FEB ? *)", utc(2024, 2, 1), utc(2024, 11, 1)),
    ("cron(0 0 1 NOV-FEB ? *)", utc(2024, 12, 1), utc(2025, 1, 1)),
]


@pytest.mark.parametrize(("expression", "after", "expected"), LISTS_RANGES_AND_STEPS)
def test_lists_ranges_and_steps(expression: str, after: datetime.datetime, expected: datetime.datetime) -> None:
    assert next_run(expression, after) == expected


def test_the_29th_of_february_is_found_years_ahead() -> None:
    assert next_run("cron(0 0 29 2 ? *)", utc(2024, 3, 1)) == utc(2028, 2, 29)
    assert next_run("cron(0 0 29 2 ? *)", utc(2096, 3, 1)) == utc(2104, 2, 29)  # 2100 is no leap year


def test_a_year_field_that_ends_stops_the_schedule() -> None:
    assert next_run("cron(0 0 1 1 ? 2025)", utc(2024, 6, 1)) == utc(2025, 1, 1)
    assert next_run("cron(0 0 1 1 ? 2025)", utc(2025, 1, 1)) is None
    assert next_run("cron(0 8 L * ? 2025-2026)", utc(2026, 12, 31, 8, 0)) is None
    assert next_run("cron(59 23 31 12 ? 2199)", utc(2199, 12, 31, 23, 58)) == utc(2199, 12, 31, 23, 59)
    assert next_run("cron(* * * * ? *)", utc(2199, 12, 31, 23, 59)) is None


def test_a_day_that_never_comes_never_fires() -> None:
    assert next_run("cron(0 0 30 2 ? *)", utc(2024, 1, 1)) is None
    assert next_run("cron(0 0 31 2,4,6,9,11 ? *)", utc(2024, 1, 1)) is None


def test_after_is_taken_in_its_own_zone_and_the_answer_is_utc() -> None:
    paris = datetime.timezone(datetime.timedelta(hours=2))
    found = next_run("cron(0 10 * * ? *)", datetime.datetime(2024, 5, 15, 11, 30, tzinfo=paris))  # 09:30 UTC
    assert found == utc(2024, 5, 15, 10, 0)
    assert found is not None
    assert found.tzinfo is UTC


def test_a_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run("cron(0 10 * * ? *)", datetime.datetime(2024, 5, 15))


# ---------------------------------------------------------------- rate and at


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", datetime.timedelta(minutes=1)),
        ("rate(5 minutes)", datetime.timedelta(minutes=5)),
        ("rate(1 hour)", datetime.timedelta(hours=1)),
        ("rate(12 hours)", datetime.timedelta(hours=12)),
        ("rate(1 day)", datetime.timedelta(days=1)),
        ("rate(2 days)", datetime.timedelta(days=2)),
    ],
)
def test_rate_fires_one_period_later(expression: str, period: datetime.timedelta) -> None:
    schedule = parse(expression)
    assert schedule == Rate(expression, period)
    assert next_run(expression, utc(2024, 5, 15, 10, 7, 30)) == utc(2024, 5, 15, 10, 7, 30) + period


def test_rate_examples_exactly() -> None:
    assert next_run("rate(5 minutes)", utc(2024, 5, 15, 23, 58)) == utc(2024, 5, 16, 0, 3)
    assert next_run("rate(2 days)", utc(2024, 2, 28, 6, 0)) == utc(2024, 3, 1, 6, 0)


def test_at_fires_once() -> None:
    expression = "at(2024-06-01T12:30:00)"
    assert parse(expression) == At(expression, utc(2024, 6, 1, 12, 30))
    assert next_run(expression, utc(2024, 5, 15)) == utc(2024, 6, 1, 12, 30)
    assert next_run(expression, utc(2024, 6, 1, 12, 29, 59)) == utc(2024, 6, 1, 12, 30)
    assert next_run(expression, utc(2024, 6, 1, 12, 30)) is None
    assert next_run(expression, utc(2025, 1, 1)) is None


# ---------------------------------------------------------------- parsing


def test_parse_gives_sorted_field_values() -> None:
    schedule = parse("cron(0/15 8-10 ? * MON-FRI 2024,2026)")
    assert isinstance(schedule, Cron)
    assert schedule.minutes == (0, 15, 30, 45)
    assert schedule.hours == (8, 9, 10)
    assert schedule.months == tuple(range(1, 13))
    assert schedule.years == (2024, 2026)
    assert schedule.days.values == frozenset({0, 1, 2, 3, 4})  # Monday-Friday, Python's numbering


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # the day fields: exactly one must be ?
        ("cron(0 10 ? * ? *)", "exactly one of day-of-month"),
        ("cron(0 10 * * * *)", "exactly one of day-of-month"),
        ("cron(0 10 1 * MON *)", "exactly one of day-of-month"),
        # field count
        ("cron(0 10 * * ?)", "6 fields"),
        ("cron(0 0 10 * * ? *)", "6 fields"),
        ("cron()", "6 fields"),
        # out of range, field by field
        ("cron(60 10 * * ? *)", "minutes field '60': 60 is out of range 0-59"),
        ("cron(0 24 * * ? *)", "hours field '24': 24 is out of range 0-23"),
        ("cron(0 10 32 * ? *)", "day-of-month field '32': 32 is out of range 1-31"),
        ("cron(0 10 0 * ? *)", "day-of-month field '0': 0 is out of range 1-31"),
        ("cron(0 10 1 13 ? *)", "month field '13': 13 is out of range 1-12"),
        ("cron(0 10 ? * 8 *)", "day-of-week field '8': 8 is out of range 1-7"),
        ("cron(0 10 ? * 0 *)", "day-of-week field '0': 0 is out of range 1-7"),
        ("cron(0 10 * * ? 1969)", "year field '1969': 1969 is out of range 1970-2199"),
        ("cron(0 10 * * ? 2200)", "year field '2200': 2200 is out of range 1970-2199"),
        ("cron(0 10 1-40 * ? *)", "day-of-month field '1-40'"),
        # malformed items
        ("cron(0 10 * FOO ? *)", "month field 'FOO': 'FOO' is not a value"),
        ("cron(0 10 ? * MON-FOO *)", "day-of-week field 'MON-FOO'"),
        ("cron(? 10 * * ? *)", "minutes field '\\?'"),
        ("cron(0 10 * * ? ?)", "year field '\\?'"),
        ("cron(1,,2 10 * * ? *)", "minutes field '1,,2'"),
        ("cron(5- 10 * * ? *)", "minutes field '5-'"),
        ("cron(*-5 10 * * ? *)", "minutes field '\\*-5'"),
        ("cron(0/0 10 * * ? *)", "minutes field '0/0': increment 0"),
        ("cron(0/60 10 * * ? *)", "minutes field '0/60': increment 60"),
        ("cron(0 10 * * ? 2030-2025)", "year field '2030-2025': range 2030-2025 runs backwards"),
        # the special characters, where they may not stand
        ("cron(L 10 * * ? *)", "minutes field 'L'"),
        ("cron(0 10 ? * 2W *)", "day-of-week field '2W'"),
        ("cron(0 10 L,15 * ? *)", "day-of-month field 'L,15'"),
        ("cron(0 10 32W * ? *)", "day-of-month field '32W'"),
        ("cron(0 10 W * ? *)", "day-of-month field 'W'"),
        ("cron(0 10 ? * 2#6 *)", "day-of-week field '2#6'"),
        ("cron(0 10 ? * 2#0 *)", "day-of-week field '2#0'"),
        ("cron(0 10 ? * 3#1,6#3 *)", "day-of-week field '3#1,6#3'"),  # '#' allows one expression only
        ("cron(0 10 ? * 8L *)", "day-of-week field '8L'"),
        ("cron(0 10 1#1 * ? *)", "day-of-month field '1#1'"),
        # rate
        ("rate(1 minutes)", "'minute' for a value of 1"),
        ("rate(5 minute)", "'minutes'"),
        ("rate(1 hours)", "'hour' for a value of 1"),
        ("rate(2 day)", "'days'"),
        ("rate(0 minutes)", "positive integer"),
        ("rate(-1 minutes)", "rate needs 'value unit'"),
        ("rate(1.5 hours)", "rate needs 'value unit'"),
        ("rate(1 week)", "'week' is not minute"),
        ("rate(minutes)", "rate needs 'value unit'"),
        # at
        ("at(2024-02-30T00:00:00)", "not a real date"),
        ("at(2024-06-01 12:30:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2024-06-01T12:30)", "yyyy-mm-ddThh:mm:ss"),
        # none of the three forms
        ("cron 0 10 * * ? *", "expected rate"),
        ("every(5 minutes)", "expected rate"),
        ("", "expected rate"),
    ],
)
def test_invalid_expressions_are_refused_naming_the_fault(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse(expression)
    assert repr(expression) in str(raised.value)  # the message quotes the whole expression too
