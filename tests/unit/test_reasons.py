"""Reasons and log lines say which field, which rule and what the target answered, never the value."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from utilhub.platform.observability import ValuesWithheldFormatter
from utilhub.platform.reasons import ValuesWithheld, loggable, target_refusal, validation_reason, values_withheld, xsd_rule

VALUE = "Jane Q. Marker"


class Contact(BaseModel):
    name: str = Field(max_length=10)
    meterId: str = Field(pattern=r"^M-[0-9]+$")


def refused() -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        Contact.model_validate({"name": VALUE, "meterId": VALUE})
    return raised.value


def test_a_targets_problem_document_is_its_status_and_codes_not_its_detail() -> None:
    answer = {
        "type": "https://ccb.example/problems/invalid",
        "title": "Invalid request",
        "detail": f"name {VALUE} is too long",
        "code": "CC-0042",
        "errors": [{"pointer": "#/name", "detail": VALUE}],
    }
    reason = target_refusal(422, json.dumps(answer).encode(), "application/problem+json")
    assert reason == 'HTTP 422 (code CC-0042, type https://ccb.example/problems/invalid, title "Invalid request", field #/name)'


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (f"customer {VALUE} unknown".encode(), "text/plain", "HTTP 400"),
        (json.dumps({"message": f"customer {VALUE} unknown"}).encode(), "application/json", "HTTP 400"),
        (json.dumps({"title": f"{VALUE} 1"}).encode(), "application/json", "HTTP 400"),  # a title that is not plain words
        (
            f"<Fault><faultcode>Client.Invalid</faultcode><faultstring>{VALUE}</faultstring></Fault>".encode(),
            "text/xml",
            "HTTP 400 (answer Fault, code Client.Invalid)",
        ),
        (b"<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>", "application/xml", "HTTP 400"),
    ],
)
def test_a_targets_text_is_never_kept(body: bytes, content_type: str, expected: str) -> None:
    assert target_refusal(400, body, content_type) == expected


def test_a_validation_reason_names_each_field_and_rule_without_the_input() -> None:
    reason = validation_reason(refused())
    assert "/name: string_too_long (String should have at most 10 characters)" in reason
    assert "/meterId: string_pattern_mismatch" in reason
    assert "Marker" not in reason


def test_an_xsd_message_keeps_element_and_facet_and_drops_the_value() -> None:
    said = (
        "Element 'Name': [facet 'maxLength'] The value 'Jane Q. Marker' has a length of 14; this exceeds the allowed maximum length of 10."
    )
    assert (
        xsd_rule(said) == "Element 'Name': [facet 'maxLength'] The value has a length of 14; this exceeds the allowed maximum length of 10."
    )
    typed = "Element 'Quantity': 'Jane Q. Marker' is not a valid value of the atomic type 'xs:decimal'."
    assert xsd_rule(typed) == "Element 'Quantity': The value is not a valid value of the atomic type 'xs:decimal'."


def test_an_exception_is_loggable_without_what_it_was_given() -> None:
    with pytest.raises(ValueError, match="could not convert") as raised:
        float(VALUE)
    assert loggable(raised.value) == "ValueError"
    assert "Marker" not in loggable(refused())
    assert loggable(KeyError("name")) == "KeyError (no name)"


def test_a_validation_error_leaves_a_handler_without_its_values() -> None:
    with pytest.raises(ValuesWithheld) as raised, values_withheld():
        Contact.model_validate({"name": VALUE, "meterId": "M-1"})
    assert "Marker" not in str(raised.value)
    assert "/name: string_too_long" in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_a_logged_exception_carries_no_value_even_when_chained() -> None:
    try:
        try:
            Contact.model_validate({"name": VALUE, "meterId": VALUE})
        except ValidationError as exc:
            raise RuntimeError("delivery failed") from exc
    except RuntimeError:
        import sys

        record = logging.LogRecord("utilhub", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = ValuesWithheldFormatter().format(record)
    assert "Marker" not in line
    assert "/name: string_too_long" in json.loads(line)["exception"]


def test_no_function_logs_its_event() -> None:
    # Powertools logs a whole event (every field of every message) with POWERTOOLS_LOGGER_LOG_EVENT or log_event=True
    root = Path(__file__).resolve().parents[2]
    template = (root / "template.yaml").read_text(encoding="utf-8")
    handlers = {path: path.read_text(encoding="utf-8") for path in (root / "functions").rglob("app.py")}
    assert "POWERTOOLS_LOGGER_LOG_EVENT" not in template
    assert handlers
    assert [str(path) for path, source in handlers.items() if "log_event" in source] == []
