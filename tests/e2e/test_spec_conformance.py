"""The hub answers as docs/openapi.json says (localhub.spec_check): schemathesis over every operation of the
document on the local runtime, with a token holding every scope, positive and negative data. A bounded,
deterministic run; ``make schemathesis`` makes the full one."""

from __future__ import annotations

import json

from localhub.server import LocalRuntime
from localhub.spec_check import CHECKS, OPENAPI, check_spec

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def test_every_operation_answers_as_the_document_says(runtime: LocalRuntime) -> None:
    # Given the document's operations and the local hub
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    operations = sum(1 for item in document["paths"].values() for method in item if method in HTTP_METHODS)

    # When schemathesis sends a few valid and invalid requests to each (the same ones every run)
    run = check_spec(runtime.api_url, max_examples=3, deterministic=True, workers=2, phases=("examples", "fuzzing"))

    # Then every operation was tested, every check held for every answer, and nothing failed to run
    assert "negative_data_rejection" in CHECKS
    assert (run.operations, run.selected) == (operations, operations), run.summary()
    assert run.cases >= 2 * operations, run.summary()
    assert run.errors == (), run.summary()
    assert run.failures == (), run.summary() + "\n" + run.output[-20000:]
