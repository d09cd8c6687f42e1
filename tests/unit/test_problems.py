"""RFC 9457 problem details (utilhub.platform.problems): the shape of every error answer,
and pydantic validation errors turned into JSON pointers into the request body."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from utilhub.platform.problems import FieldError, Problem, from_validation_error


class Reading(BaseModel):
    quantity: int


class Tariff(BaseModel):
    code: str
    rates: dict[str, int] = {}
    readings: list[Reading] = []


def validation_error(value: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Tariff.model_validate(value)
    return caught.value


def pointers(problem: Problem) -> list[str]:
    return [error.pointer for error in problem.errors]


# --- as_dict -------------------------------------------------------------------------------


def test_as_dict_has_the_rfc_9457_members_and_each_field_error() -> None:
    # Given a problem with two invalid fields
    problem = Problem(
        422,
        "Invalid request",
        "2 field(s) are invalid.",
        "invalid-request",
        [FieldError("#/data/name", "Field required"), FieldError("#/entityId", "too long")],
    )

    # When it is rendered
    body = problem.as_dict()

    # Then it carries type, title, status, detail and errors with pointer and detail
    assert body == {
        "type": "https://utilhub.dev/problems/invalid-request",
        "title": "Invalid request",
        "status": 422,
        "detail": "2 field(s) are invalid.",
        "errors": [
            {"pointer": "#/data/name", "detail": "Field required"},
            {"pointer": "#/entityId", "detail": "too long"},
        ],
    }


def test_as_dict_leaves_out_errors_when_there_are_none() -> None:
    # Given a problem about the whole request, not about fields
    problem = Problem(404, "Not found", "No sync request sr-1.", "not-found")

    # When it is rendered
    body = problem.as_dict()

    # Then there is no empty errors member
    assert body == {
        "type": "https://utilhub.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No sync request sr-1.",
    }


def test_as_dict_adds_extension_members() -> None:
    # Given a problem with an extension member
    problem = Problem(409, "Conflict", "Already used.", "conflict", extra={"syncRequestId": "sr-1"})

    # When it is rendered, Then the extension sits beside the standard members
    body = problem.as_dict()
    assert body["syncRequestId"] == "sr-1"
    assert body["status"] == 409


def test_problem_is_an_exception_describing_itself() -> None:
    # Given a problem, When it is raised and printed
    with pytest.raises(Problem) as caught:
        raise Problem(400, "Malformed request", "The body is not JSON.")

    # Then its text names status, title and detail
    assert str(caught.value) == "400 Malformed request: The body is not JSON."


# --- from_validation_error -----------------------------------------------------------------


def test_validation_error_becomes_a_422_with_one_pointer_per_field() -> None:
    # Given a body missing one field and with a wrong type in a nested list item
    exc = validation_error({"readings": [{"quantity": 1}, {"quantity": "many"}]})

    # When it becomes a problem
    problem = from_validation_error(exc)

    # Then it is a 422 pointing at each field, list indexes included
    assert problem.status == 422
    assert problem.as_dict()["type"].endswith("/invalid-request")
    assert sorted(pointers(problem)) == ["#/code", "#/readings/1/quantity"]
    assert all(error.detail for error in problem.errors)
    assert problem.detail == "2 field(s) are invalid."


def test_slash_in_a_key_is_escaped_as_tilde_one() -> None:
    # Given an invalid value under a key containing "/"
    exc = validation_error({"code": "T1", "rates": {"peak/offpeak": "high"}})

    # When it becomes a problem
    problem = from_validation_error(exc)

    # Then the pointer escapes "/" as "~1" (RFC 6901)
    assert pointers(problem) == ["#/rates/peak~1offpeak"]


def test_tilde_in_a_key_is_escaped_as_tilde_zero() -> None:
    # Given an invalid value under a key containing "~"
    exc = validation_error({"code": "T1", "rates": {"a~b": "high"}})

    # When it becomes a problem
    problem = from_validation_error(exc)

    # Then the pointer escapes "~" as "~0"
    assert pointers(problem) == ["#/rates/a~0b"]


def test_tilde_is_escaped_before_slash() -> None:
    # Given a key "~1/" that would be ambiguous if "/" were escaped first
    exc = validation_error({"code": "T1", "rates": {"~1/": "high"}})

    # When it becomes a problem
    problem = from_validation_error(exc)

    # Then "~" -> "~0" happens first, then "/" -> "~1"
    assert pointers(problem) == ["#/rates/~01~1"]


def test_root_prefixes_every_pointer() -> None:
    # Given an invalid item of a batch, validated on its own
    exc = validation_error({"readings": [{"quantity": "many"}]})

    # When it becomes a problem under the item's place in the batch
    problem = from_validation_error(exc, "/requests/3")

    # Then every pointer starts with that place
    assert sorted(pointers(problem)) == ["#/requests/3/code", "#/requests/3/readings/0/quantity"]


def test_error_on_the_whole_body_points_at_the_root() -> None:
    # Given a body that is not an object at all
    exc = validation_error(["not", "an", "object"])

    # When it becomes a problem, with and without a root
    at_top = from_validation_error(exc)
    in_batch = from_validation_error(exc, "/requests/0")

    # Then the pointer is the document (or the batch item) itself
    assert pointers(at_top) == ["#"]
    assert pointers(in_batch) == ["#/requests/0"]
