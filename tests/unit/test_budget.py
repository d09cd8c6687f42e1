"""Synchronous calls with a time budget (utilhub.platform.budget): 502 when the target answered an
error, 504 when the time is spent, a target's 404 passed on, one more try for a read only. Pure: a
fake clock and calls that fail as told."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from utilhub.platform.budget import TimeBudget
from utilhub.platform.connectors import TargetRejected, TargetTimedOut, TargetUnavailable
from utilhub.platform.problems import Problem
from utilhub.platform.reasons import target_refusal


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def calls(*outcomes: BaseException | str, clock: Clock | None = None, takes: float = 0.0) -> tuple[Callable[[float], str], list[float]]:
    """An attempt that fails or answers as ``outcomes`` says, in turn; records the time each was given."""
    given: list[float] = []
    pending = list(outcomes)

    def attempt(within: float) -> str:
        given.append(within)
        if clock is not None:
            clock.now += takes
        outcome = pending.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return attempt, given


def test_each_call_gets_what_is_left_of_the_budget() -> None:
    # Given a 10 s budget of which 4 s are spent
    clock = Clock()
    budget = TimeBudget(10.0, clock)
    clock.now += 4.0
    attempt, given = calls("answer")

    # When a call is made
    answer = budget.call("CCB", attempt)

    # Then it may take the 6 s left, and its answer comes back
    assert answer == "answer"
    assert given == [6.0]


def test_a_target_that_does_not_answer_in_time_is_a_504_naming_it() -> None:
    # Given a write whose target times out
    attempt, given = calls(TargetTimedOut("CCB did not answer in time"))

    # When it is called
    with pytest.raises(Problem) as raised:
        TimeBudget(5.0, Clock()).call("CCB", attempt)

    # Then it was tried once, and the answer is a 504 naming the target
    assert len(given) == 1
    assert raised.value.status == 504
    assert raised.value.as_dict()["target"] == "CCB"


def test_a_spent_budget_makes_no_call_at_all() -> None:
    # Given a budget already spent
    clock = Clock()
    budget = TimeBudget(1.0, clock)
    clock.now += 1.0
    attempt, given = calls("never")

    # When a call is asked for
    with pytest.raises(Problem) as raised:
        budget.call("MDM", attempt, read_only=True)

    # Then nothing is called and the answer is a 504
    assert given == []
    assert raised.value.status == 504


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (TargetUnavailable("CCB answered 503"), 502),
        (TargetRejected(422, "invalid customer"), 502),
        (TargetRejected(404, "no such SA"), 404),
    ],
)
def test_an_error_answer_is_a_502_and_a_404_is_passed_on(failure: BaseException, status: int) -> None:
    # Given a write whose target answers an error
    attempt, given = calls(failure)

    # When it is called
    with pytest.raises(Problem) as raised:
        TimeBudget(5.0, Clock()).call("CCB", attempt)

    # Then it is not tried again, and the problem says what the target said
    assert len(given) == 1
    assert raised.value.status == status
    assert str(failure).split(": ")[-1] in raised.value.detail


def test_a_read_is_tried_once_more_within_the_budget() -> None:
    # Given a read that times out after 3 s, then answers
    clock = Clock()
    attempt, given = calls(TargetTimedOut("slow"), "answer", clock=clock, takes=3.0)

    # When it is called with a 10 s budget
    answer = TimeBudget(10.0, clock).call("MDM", attempt, read_only=True)

    # Then the second try got the 7 s left and its answer comes back
    assert answer == "answer"
    assert given == [10.0, 7.0]


def test_a_read_that_fails_twice_is_a_problem_after_two_tries_only() -> None:
    # Given a read whose target is down
    attempt, given = calls(TargetUnavailable("down"), TargetUnavailable("down"), "never")

    # When it is called
    with pytest.raises(Problem) as raised:
        TimeBudget(10.0, Clock()).call("MDM", attempt, read_only=True)

    # Then it was tried twice and the answer is a 502
    assert len(given) == 2
    assert raised.value.status == 502


class Refusing:
    """A connector whose target refuses every call with ``status`` and a problem document."""

    system = "MDM"

    def __init__(self, status: int) -> None:
        self.status = status
        self.calls = 0

    def request(self, method: str, path: str, body: bytes | None, *, content_type: str, within: float) -> None:
        self.calls += 1
        answer = {
            "type": "https://mdm.example/problems/out-of-range",
            "title": "Invalid request",
            "detail": "readAt 2026-12-31 is after the last read",
        }
        raise TargetRejected(self.status, target_refusal(self.status, json.dumps(answer).encode(), "application/problem+json"))


@pytest.mark.parametrize(
    ("status", "refused", "expected"),
    [
        (422, "#/readAt", 422),  # a refusal of what the caller asked, naming its field
        (400, "#/readAt", 422),
        (422, None, 502),  # the caller did not say which field: the target answered an error
        (404, "#/readAt", 404),
    ],
)
def test_a_targets_refusal_is_passed_on_with_its_codes_not_its_detail(status: int, refused: str | None, expected: int) -> None:
    connector: Any = Refusing(status)  # only what json_call uses of an HttpConnector
    with pytest.raises(Problem) as raised:
        TimeBudget(5.0, Clock()).json_call(connector, "POST", "usage/read-boundaries", {}, read_only=True, refused=refused)
    problem = raised.value
    assert problem.status == expected
    said = f'HTTP {status} (type https://mdm.example/problems/out-of-range, title "Invalid request")'
    assert said in problem.detail
    assert "2026-12-31" not in json.dumps(problem.as_dict())  # the target's detail repeats the value: never passed on
    assert [(e.pointer, e.detail) for e in problem.errors] == ([("#/readAt", said)] if expected == 422 else [])
    assert connector.calls == 1  # a refusal is not tried again, even for a read
