"""The hub answers as docs/openapi.json says (localhub.spec_check): schemathesis over every operation of the
document on the local runtime, with a token holding every scope, positive and negative data. A bounded,
deterministic run; ``make schemathesis`` makes the full one.

The functions run in the test's process (``--in-process``), one invocation at a time: the same handlers,
without starting an execution environment per function, so a busy machine neither slows the run nor
times a function out."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from localhub.aws.endpoint import reset
from localhub.hub import LocalHub
from localhub.server import LocalRuntime
from localhub.spec_check import CHECKS, OPENAPI, check_spec

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def in_process_runtime(aws_endpoint: str) -> Iterator[LocalRuntime]:
    reset(aws_endpoint)
    local = LocalRuntime(api_port=0, aws_endpoint=aws_endpoint, run_schedules=False, hub=LocalHub(workers=None)).start()
    yield local
    local.stop()
    assert not local.worker_errors, local.worker_errors


def test_every_operation_answers_as_the_document_says(in_process_runtime: LocalRuntime) -> None:
    # Given the document's operations and the local hub
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    operations = sum(1 for item in document["paths"].values() for method in item if method in HTTP_METHODS)

    # When schemathesis sends a few valid and invalid requests to each (the same ones every run)
    run = check_spec(in_process_runtime.api_url, max_examples=3, deterministic=True, workers=2, phases=("examples", "fuzzing"))

    # Then every operation was tested, every check held for every answer, and nothing failed to run
    assert "negative_data_rejection" in CHECKS
    assert (run.operations, run.selected) == (operations, operations), run.summary()
    assert run.cases >= 2 * operations, run.summary()
    assert run.errors == (), run.summary()
    assert run.failures == (), run.summary() + "\n" + run.output[-20000:]
