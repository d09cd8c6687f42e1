"""MD-01 person sync, CCB -> MDM, through the real handlers, moto and the MDM simulator."""

from __future__ import annotations

import json

from localhub.hub import LocalHub
from tests.conftest import sample_event

API = "MeterDataSyncRequestsFunction"
MONITOR = "MeterDataSyncMonitorFunction"


def test_person_is_synchronized_end_to_end(hub: LocalHub) -> None:
    # Given CCB posts a person sync request
    response = hub.invoke(API, sample_event("meter_data/sync_requests/submit-person.json")).result
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"]) == {"syncRequestId": "SR-1001", "status": "PENDING"}
    # When the monitor runs and the delivery queue is drained
    report = hub.run_schedule(MONITOR)
    assert not report.failed, report.error
    assert report.result["queued"] == 1
    assert hub.drain() == 1
    # Then the request is SYNCHRONIZED with its history, and MDM has the contact
    query = hub.invoke(API, sample_event("meter_data/sync_requests/query.json")).result
    body = json.loads(query["body"])
    assert body["status"] == "SYNCHRONIZED", body
    assert [h["status"] for h in body["history"]] == ["PENDING", "SENT", "SYNCHRONIZED"]
    record = hub.simulators["MDM"].records["PERSON#P-0001"]
    assert record["data"]["ContactName"] == "Ada Lovelace"
