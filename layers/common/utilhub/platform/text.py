"""What text the hub takes from outside: one rule for every route, every field and every format.

The applications behind the hub keep text, not control characters, whatever format a message
travels in (XML, JSON, tab-separated files). So, wherever a value comes from:

- **Free text** (names, addresses, remarks, any string in a body): TAB and LF are legitimate (a
  remark's lines, a pasted table); no other control character is (C0 and C1, DEL, CR), nor U+2028
  and U+2029 (line breaks by another name), nor a lone surrogate or the non-characters
  U+FFFE/U+FFFF (no UTF-8 encoder or XML writer can carry them).
- **Query parameters and ``Idempotency-Key``** are codes, dates or a one-line search term: no control,
  format or separator character at all (Unicode categories C and Z other than the space), so neither
  TAB nor LF, and no bidirectional override or zero-width character.
- **Path parameters** name an id or a code, and become a segment of a target's URL: the hub's id
  pattern (an ASCII letter or digit, then letters, digits, ``. _ : -``, 64 at most), so no control
  character, no ``/``, ``.`` or ``..``, no quote, space or look-alike letter.

Ids and codes inside bodies keep their own patterns (ASCII letters, digits and ``._:-``), which
hold none of these characters. A refusal names where the character is (a JSON pointer) and never
repeats the value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic_core import PydanticCustomError

from utilhub.platform.problems import FieldError, bad_request, invalid

if TYPE_CHECKING:
    from lxml import etree

PATH_PARAMETER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")
# C0 but TAB (09) and LF (0A), DEL, C1, line and paragraph separators, surrogates, U+FFFE and U+FFFF
_NOT_IN_FREE_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
FREE_TEXT_DETAIL = "contains a control character (only TAB and LF are allowed in text)"
PARAMETER_DETAIL = "contains a control, format or separator character"
PATH_PARAMETER_DETAIL = "is not an id: a letter or digit, then letters, digits, '.', '_', ':' or '-', 64 at most"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def forbidden_in_text(value: str) -> bool:
    """Whether free text ``value`` holds a character the hub refuses."""
    return _NOT_IN_FREE_TEXT.search(value) is not None


def forbidden_in_parameter(value: str) -> bool:
    """Whether ``value`` (an id, code or one-line term) holds a control, format or separator character."""
    return any(c != " " and unicodedata.category(c)[0] in "CZ" for c in value)


def _texts(value: Any, found: list[str]) -> list[str]:
    """Every member name and string in ``value``, gathered into ``found``."""
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            found.append(str(key))
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict | list):
                _texts(item, found)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict | list):
                _texts(item, found)
    return found


def _holds_forbidden(value: Any) -> bool:
    """Whether a member name or string in ``value`` holds a character free text may not hold: one search of them
    all, joined by LF (a character free text may hold, so the joints add nothing refused)."""
    return _NOT_IN_FREE_TEXT.search("\n".join(_texts(value, []))) is not None


def first_forbidden(value: Any, pointer: str = "#") -> str | None:
    """The JSON pointer of the first member name or string in ``value`` holding a character free text
    may not hold, or None. A bad member name is pointed at through the object that holds it.

    Every body the hub reads is scanned, and nearly every one holds nothing refused: a first pass answers that
    without building a pointer per member; the pointer is looked for only when there is one to find."""
    if not _holds_forbidden(value):
        return None
    return _first_forbidden(value, pointer)


def _first_forbidden(value: Any, pointer: str) -> str | None:
    if isinstance(value, str):
        return pointer if forbidden_in_text(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if forbidden_in_text(str(key)):
                return pointer
            if found := _first_forbidden(item, f"{pointer}/{_escape(str(key))}"):
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if found := _first_forbidden(item, f"{pointer}/{index}"):
                return found
    return None


def refuse_in_json(value: Any) -> None:
    """A 422 naming the first place in a parsed JSON body that holds a refused character."""
    if pointer := first_forbidden(value):
        raise invalid("Text may not hold control characters.", [FieldError(pointer, FREE_TEXT_DETAIL)])


def refuse_in_xml(root: etree._Element) -> None:
    """A 422 naming the element (by path) whose text or attribute holds a refused character. XML 1.0
    itself cannot carry most C0 characters, but it does carry CR (``&#13;``), DEL and C1."""
    tree = root.getroottree()
    for element in root.iter():
        values = [element.text, element.tail, *element.attrib.values()]
        if any(isinstance(v, str) and forbidden_in_text(v) for v in values):
            where = tree.getpath(element)
            raise invalid("Text may not hold control characters.", [FieldError(where, FREE_TEXT_DETAIL)])


def refuse_in_parameters(
    kind: str, parameters: Mapping[str, str] | None, *, path: bool = False, compound: frozenset[str] = frozenset()
) -> None:
    """A 400 naming the first parameter (``#/pathParameters/<name>`` or ``#/queryStringParameters/<name>``)
    that holds a control, format or separator character, or (a path parameter) is not an id; a path parameter named
    in ``compound`` is ids joined by ``/`` (an order revision ``ORD-1/2``, sent percent-encoded in one segment)."""
    for name, value in (parameters or {}).items():
        if forbidden_in_parameter(name):
            raise bad_request("Parameters may not hold control characters.", [FieldError(f"#/{kind}", PARAMETER_DETAIL)])
        parts = value.split("/") if name in compound else [value]
        if path and any(PATH_PARAMETER.fullmatch(part) is None for part in parts):
            raise bad_request("A path parameter names an id or a code.", [FieldError(f"#/{kind}/{_escape(name)}", PATH_PARAMETER_DETAIL)])
        if forbidden_in_parameter(value):
            raise bad_request("Parameters may not hold control characters.", [FieldError(f"#/{kind}/{_escape(name)}", PARAMETER_DETAIL)])


def refuse_in_header(name: str, value: str) -> None:
    """A 400 when a header the hub keeps (``Idempotency-Key``) holds a control, format or separator character."""
    if forbidden_in_parameter(value):
        raise bad_request(f"{name} may not hold control characters.", [FieldError(f"#/headers/{name.lower()}", PARAMETER_DETAIL)])


def text_only[T](value: T) -> T:
    """``value`` unchanged, or a ``ValueError`` (pydantic's custom error) naming where it holds a character free text may not hold:
    the same rule for data a source application hands over without the API (a file, a queue), as a
    pydantic ``model_validator(mode="before")`` of the model that reads it; the error's type is ``control_character``."""
    if pointer := first_forbidden(value):
        # a rule of the hub's own (not a validator's free text): its message names the place, never the value,
        # so reasons and logs keep it (platform/reasons.py)
        raise PydanticCustomError("control_character", "{pointer} " + FREE_TEXT_DETAIL, {"pointer": pointer})
    return value
