"""Reasons without personal data: the one place a failure's reason is built.

A reason is stored on a request (sync requests, usage requests, activities, order revisions, customers,
DACS records), answered by GET routes, relayed to CCB and logged. It says which field (a JSON pointer or
an XPath), which rule (pydantic's error type and message, never its ``input``) and what the target answered
(HTTP status, its error code, its problem's ``type`` and ``title``), never the value that was refused nor
an excerpt of a target's body: a target's message often repeats the value (a name, an address, a meter id).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from utilhub.platform.problems import Problem

# what a target's code, problem type or field may look like to be kept: an identifier, a URI or a pointer, no spaces
_TOKEN = re.compile(r"[A-Za-z0-9_.:/#~\-\[\]@=']{1,120}")
# a problem title kept only when it is plain words (RFC 9457: the same for every occurrence of the problem type)
_TITLE = re.compile(r"[A-Za-z][A-Za-z ,'-]{0,79}")
_CODE_KEYS = ("code", "errorCode", "error_code", "error")
_FIELD_KEYS = ("pointer", "field", "path", "xpath", "loc")
# pydantic error types whose message is the model's own words (a validator's text), kept out as it may quote the value
_OWN_WORDS = frozenset({"value_error", "assertion_error"})
MAX_REFUSAL_BYTES = 65_536
# libxml2's XSD messages quote the refused value: "[facet 'maxLength'] The value 'Jane Doe' has a length of ..."
_XSD_VALUE = re.compile(r"The value '.*?' (is|has)|(?<=: )'.*?' (is not a valid value)", re.DOTALL)


def _token(value: Any) -> str | None:
    text = str(value) if isinstance(value, (str, int)) else None
    return text if text is not None and _TOKEN.fullmatch(text) else None


def target_refusal(status: int, body: bytes, content_type: str = "") -> str:
    """What a target's refusal says, without its content: ``HTTP 422 (code X, type Y, title "Z", field /a/b)``."""
    parts: list[str] = []
    if "xml" in content_type or body.lstrip()[:1] == b"<":
        parts += _xml_codes(body)
    else:
        parts += _json_codes(body)
    return f"HTTP {status}" + (f" ({', '.join(dict.fromkeys(parts))})" if parts else "")


def _json_codes(body: bytes) -> list[str]:
    try:
        answer = json.loads(body)
    except ValueError:
        return []
    if not isinstance(answer, dict):
        return []
    parts = [f"code {code}" for key in _CODE_KEYS if (code := _token(answer.get(key)))]
    if problem_type := _token(answer.get("type")):
        parts.append(f"type {problem_type}")
    title = answer.get("title")
    if isinstance(title, str) and _TITLE.fullmatch(title):
        parts.append(f'title "{title}"')
    errors = answer.get("errors")
    for error in errors[:5] if isinstance(errors, list) else []:
        if isinstance(error, dict):
            parts += [f"field {found}" for key in _FIELD_KEYS if (found := _token(error.get(key)))]
    return parts


def _xml_codes(body: bytes) -> list[str]:
    """The root element and any element or attribute named like a code: never text that is not one."""
    from lxml import etree  # only a function that reads an XML answer loads lxml

    from utilhub.platform.xml import parse_untrusted  # the hardened parser (xml.py uses this module's xsd_rule)

    try:
        root = parse_untrusted(body, max_bytes=MAX_REFUSAL_BYTES, max_depth=32)
    except Problem:
        return []
    parts = [f"answer {etree.QName(root).localname}"]
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if (name in _CODE_KEYS or name in ("faultcode", "Code", "ErrorCode")) and (code := _token((element.text or "").strip())):
            parts.append(f"code {code}")
    return parts[:6]


def validation_reason(exc: ValidationError, root: str = "") -> str:
    """Each refused field as a JSON pointer with its rule: ``/data/name: string_too_long (String should have at most 50 characters)``."""
    return "; ".join(f"{pointer}: {rule}" for pointer, rule in validation_errors(exc, root))[:1000]


def validation_errors(exc: ValidationError, root: str = "") -> list[tuple[str, str]]:
    """``(JSON pointer, rule)`` of each field pydantic refused; the rule never holds the refused value."""
    found = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        path = "/".join(_escape(str(part)) for part in err["loc"])
        found.append((f"{root}/{path}" if path else root or "/", rule_of(err)))
    return found


def rule_of(err: Any) -> str:
    """A pydantic error's rule: its type, and its message when the message is pydantic's own (never a validator's text)."""
    kind = str(err.get("type", "invalid"))
    return kind if kind in _OWN_WORDS else f"{kind} ({err.get('msg', '')})"


def exception_reason(exc: BaseException) -> str:
    """An exception's kind and, for a validation error, its fields and rules: safe to store and to log."""
    if isinstance(exc, ValidationError):
        return f"{exc.title} invalid: {validation_reason(exc)}"
    if isinstance(exc, KeyError) and exc.args and (key := _token(exc.args[0])):
        return f"KeyError (no {key})"  # a missing field's name, never a value
    return type(exc).__name__


# exceptions whose message is the hub's own words or its AWS SDK's (ids, statuses, codes), not a value it was given
_OWN_MODULES = ("utilhub.", "botocore.", "boto3.", "urllib3.", "aws_lambda_powertools.")


def loggable(exc: BaseException) -> str:
    """An exception's message as it may be logged or carried in a workflow's history: a validation error's fields
    and rules, the hub's own messages as they are, and of anything else (``float('Jane')``) its kind only."""
    if isinstance(exc, ValidationError):
        return exception_reason(exc)
    if type(exc).__module__.startswith(_OWN_MODULES):
        return str(exc)
    return exception_reason(exc)


class ValuesWithheld(ValueError):
    """A validation error, its values left out: what a handler raises in place of pydantic's (whose message quotes them)."""


@contextmanager
def values_withheld() -> Iterator[None]:
    """Raise a :class:`pydantic.ValidationError` leaving a handler as :class:`ValuesWithheld` with its fields and rules
    only: Lambda writes an uncaught error's message to the log and Step Functions to the execution's history."""
    try:
        yield
    except ValidationError as exc:
        raise ValuesWithheld(exception_reason(exc)) from None


def xsd_rule(message: str) -> str:
    """An XSD violation's message without the value it quotes (element names, facets and types stay)."""
    return _XSD_VALUE.sub(lambda m: f"The value {m.group(1) or m.group(2)}", message)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
