"""What a handler's cold start loads: its import and init in a fresh interpreter, tracing off, as Lambda runs it,
with the variables the template gives its function. A module an invocation of the function never uses is not
loaded. It checks which modules are loaded, never how long anything takes (that is benchmarks/imports.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from localhub.template import ROOT, Template
from tests.unit.test_wiring import HANDLERS, sample_value

# one function of each kind: an HTTP API, a scheduled monitor, a workflow's task, an SQS consumer
SAMPLE = (
    "MeterDataSyncRequestsFunction",
    "MeterDataSyncMonitorFunction",
    "OrderToCashOrderStepsFunction",
    "MeterDataDeliveryFunction",
)
BATCH = "aws_lambda_powertools.utilities.batch"
LXML = "lxml.etree"
STORE = "utilhub.syncrequests.store"
MONITOR = "utilhub.syncrequests.monitor"
DELIVERY = "utilhub.syncrequests.delivery"  # the delivery and the acknowledgements
INITIAL = "utilhub.packs.dacs.initial"
ENGINE = (STORE, MONITOR, DELIVERY, INITIAL)
WATCHED = ("pydantic_settings", BATCH, "aws_xray_sdk.core", LXML, *ENGINE)


def functions() -> dict[str, tuple[str, set[str]]]:
    """Each function of the template: its handler file and the types of its event sources."""
    found = {}
    for logical_id, resource in Template.load().of_type("AWS::Serverless::Function"):
        properties = resource["Properties"]
        events = {str(event.get("Type")) for event in properties.get("Events", {}).values()}
        found[logical_id] = (str(properties["CodeUri"]).strip("/") + "/app.py", events)
    return found


FUNCTIONS = functions()


def loaded_at_cold_start(handler: str) -> set[str]:
    """Which of ``WATCHED`` a fresh interpreter has loaded once ``handler`` is imported (its init run)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("UTILHUB_", "POWERTOOLS_", "AWS_"))}
    environment |= {name: sample_value(name) for name in HANDLERS[handler]}
    environment |= {"PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)]), "POWERTOOLS_TRACE_DISABLED": "true"}
    environment |= {"AWS_DEFAULT_REGION": "eu-west-1"}
    module = handler.removesuffix(".py").replace("/", ".")
    code = f"import json, sys; import {module}; print(json.dumps([m for m in {list(WATCHED)!r} if m in sys.modules]))"
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    assert completed.returncode == 0, completed.stderr[-2000:]
    return set(json.loads(completed.stdout.splitlines()[-1]))


@pytest.mark.parametrize("function", SAMPLE)
def test_a_cold_start_loads_only_what_the_functions_invocations_use(function: str) -> None:
    # Given a function of the template and the event sources it has
    handler, events = FUNCTIONS[function]

    # When its handler is imported in a fresh interpreter with tracing off
    loaded = loaded_at_cold_start(handler)

    # Then Powertools' batch utility is loaded only by a consumer of SQS batches, the settings come without
    # pydantic-settings, and the X-Ray SDK's recorder is not loaded
    assert (BATCH in loaded) == ("SQS" in events)
    assert "pydantic_settings" not in loaded
    assert "aws_xray_sdk.core" not in loaded


def test_the_sample_has_each_kind_of_function() -> None:
    kinds = [FUNCTIONS[function][1] for function in SAMPLE]
    assert {"SQS"} in kinds
    assert {"Schedule"} in kinds
    assert kinds.count(set()) == 2


# functions none of whose routes or records are XML (JSON APIs, a queue of JSON, S3 events, files of their own format)
WITHOUT_XML = (
    "MeterDataLinksFunction",
    "MeterDataBillCycleFunction",
    "MeterDataAdjustmentFunction",
    "FieldWorkActivitiesFunction",
    "FieldWorkQueriesFunction",
    "OrderToCashOrdersFunction",
    "OperationsTransactionsFunction",
    "DacsFileTransferFunction",
)


@pytest.mark.parametrize("function", [*WITHOUT_XML, "MeterDataSyncRequestsFunction"])
def test_lxml_is_loaded_by_a_function_that_reads_xml_not_by_the_others(function: str) -> None:
    # Given a function of the template: one that takes no XML, or MD-01's intake, which takes CCB's XML
    handler, _ = FUNCTIONS[function]

    # When its handler is imported in a fresh interpreter
    loaded = loaded_at_cold_start(handler)

    # Then lxml is loaded by the XML codecs a function uses, not by the HTTP layer every API function imports
    assert (LXML in loaded) == (function not in WITHOUT_XML)


# the parts of the sync engine each function's wiring builds (what its invocations use), and no other
ENGINE_USED = {
    # intake and acknowledgements, and the monitor's release of what a request received or made final lets go
    "MeterDataSyncRequestsFunction": {STORE, DELIVERY, MONITOR},
    "MeterDataSyncMonitorFunction": {STORE, MONITOR},
    "MeterDataDeliveryFunction": {STORE, DELIVERY, MONITOR},  # MDM's answer acknowledged, the next change released
    "MeterDataUsageRequestsFunction": {STORE},  # a usage request waits for its SA's master data
    "MeterDataLinksFunction": set(),
    "MeterDataUsageFunction": set(),
    "FieldWorkActivitiesFunction": set(),
    "DacsInitialSyncFunction": {INITIAL},
    "DacsFileTransferFunction": {STORE, DELIVERY},  # a file in upload/ completes its requests
    "DacsIncrementalExtractFunction": {STORE, MONITOR, DELIVERY},  # the monitor's sweep, writing extract files
}


@pytest.mark.parametrize("function", sorted(ENGINE_USED))
def test_a_function_loads_the_parts_of_the_sync_engine_it_uses_and_no_other(function: str) -> None:
    # Given a function of the template and the parts of the engine its wiring builds
    handler, _ = FUNCTIONS[function]

    # When its handler is imported in a fresh interpreter
    loaded = loaded_at_cold_start(handler)

    # Then exactly those are loaded: a monitor has no delivery, a function of no flow none
    assert loaded & set(ENGINE) == ENGINE_USED[function]
