"""JSON an application sends, validated with JSON's own types.

The hub reads an application's JSON with :func:`json.loads` (:func:`utilhub.platform.http.read_body`, which
also refuses what no field may hold) and validates it here, against the model of the route, in pydantic's
strict mode on JSON input: a JSON number is never read as a date, nor ``false`` as an integer, as the spec
(``docs/openapi.json``) says. The same models built from XML, files, queues or tables keep pydantic's
conversions (``model_validate``): that data is text, or was validated when it came in.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from utilhub.platform.problems import bad_request


def from_json[M: BaseModel](model: type[M], value: Any) -> M:
    """``value``, JSON an application sent (a body as :func:`~utilhub.platform.http.read_body` read it, or a part of one: a request of a
    batch, a sync request's ``data``), as ``model``; a ``ValidationError`` when it does not fit.

    Each field takes only the JSON type the spec gives it: pydantic's strict mode on JSON input, where a date or
    date-time is an ISO string (never a number counted from 1970), an integer a JSON integer (never ``true``,
    ``false`` or a string), a number or decimal a JSON number, an enum or a UUID its string. Data the hub reads
    from XML, files, its queues or its tables is not JSON an application typed: it keeps pydantic's conversions.
    The value is validated as JSON text (the hub re-encodes the object ``read_body`` checked: the value refused or
    taken is the one every other check saw).
    """
    try:
        text = json.dumps(value)
    except RecursionError:
        raise bad_request("The body is nested too deeply.") from None
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors(include_url=False, include_input=False)):
            raise bad_request("The body is nested too deeply.") from None  # deeper than pydantic's JSON reader goes
        raise
