"""FW-06 (utilhub.packs.field_work.sp_sync): the flow per implementation model, the intake's rules on a
service point's data, the JSON rendered for WAM and ODM, their answers read back, and the WAM/ODM
simulators' service point register (called directly, no sockets)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from localhub.simulators.base import SimulatorError
from localhub.simulators.field import FieldSystemSimulator
from utilhub.packs.field_work import sp_sync
from utilhub.platform import wiring
from utilhub.platform.problems import Problem
from utilhub.platform.settings import Settings
from utilhub.syncrequests.api import validate_sync_request
from utilhub.syncrequests.model import SyncRequest, SyncStatus

SETTINGS = Settings()


def raw(sp_type: str = "E-RES", **data: Any) -> dict[str, Any]:
    return {
        "syncRequestId": "FW6-U1",
        "entityType": "SERVICE_POINT",
        "entityId": "SP-0001",
        "changedAt": "2026-11-20T09:00:00+01:00",
        "data": {"premiseId": "PR-1", "spType": sp_type, **data},
    }


def stored(data: dict[str, Any], sync_request_id: str = "FW6-U1") -> SyncRequest:
    return SyncRequest(
        flow="field-work",
        syncRequestId=sync_request_id,
        entityType="SERVICE_POINT",
        entityId="SP-0001",
        changedAt=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        data=data,
        dataHash="h",
        requestHash="r",
        status=SyncStatus.SENT,
        attempt=1,
        correlationId="c",
        history=[],
    )


# ---------------------------------------------------------------------------- one flow per model


def test_each_model_has_its_asset_system_as_the_target_under_one_flow_name() -> None:
    assert {model: flow.target for model, flow in sp_sync.FLOWS.items()} == {"v1.9": "WAM", "v2.1": "ODM"}
    assert {flow.name for flow in sp_sync.FLOWS.values()} == {"field-work"}
    assert all(list(flow.entities) == ["SERVICE_POINT"] for flow in sp_sync.FLOWS.values())


def test_the_active_flow_follows_the_model_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UTILHUB_FIELD_WORK_MODEL", "v1.9")
    wiring.reset()
    try:
        assert sp_sync.active_flow().target == "WAM"
    finally:
        monkeypatch.delenv("UTILHUB_FIELD_WORK_MODEL")
        wiring.reset()
    assert sp_sync.active_flow().target == "ODM"  # the default model is v2.1


# ---------------------------------------------------------------------------- intake


@pytest.mark.parametrize("model", ["v1.9", "v2.1"])
def test_a_valid_service_point_is_normalised_and_extra_fields_kept(model: str) -> None:
    request = validate_sync_request(sp_sync.FLOWS[model], raw(" g-res ", billCycleCode="BC01"), SETTINGS)
    assert request.data == {"premiseId": "PR-1", "spType": "g-res", "billCycleCode": "BC01"}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({**raw(), "data": {"spType": "E-RES"}}, "#/data/premiseId"),
        ({**raw(), "data": {"premiseId": "PR-1"}}, "#/data/spType"),
        (raw("NOT-A-TYPE"), "#/data/spType"),
        (raw(address={"line1": "1 Main St", "planet": "Mars"}), "#/data/address/planet"),
        (raw(longitude=181), "#/data/longitude"),
        ({**raw(), "entityType": "METER"}, "#/entityType"),
    ],
)
def test_what_breaks_the_contract_is_a_422_at_the_field(body: dict[str, Any], pointer: str) -> None:
    with pytest.raises(Problem) as refused:
        validate_sync_request(sp_sync.FLOWS["v2.1"], body, SETTINGS)
    assert refused.value.status == 422
    assert pointer in [e.pointer for e in refused.value.errors]


def test_an_unmapped_sp_type_names_the_map_and_the_target() -> None:
    with pytest.raises(Problem) as refused:
        validate_sync_request(sp_sync.FLOWS["v1.9"], raw("X-RES"), SETTINGS)
    assert "ServicePointType" in refused.value.detail
    assert "WAM" in refused.value.detail


# ---------------------------------------------------------------------------- the target codec


@pytest.mark.parametrize(("model", "code"), [("v1.9", "ELEC-COM"), ("v2.1", "ELECTRIC_COMMERCIAL")])
def test_the_rendered_message_carries_the_targets_code_and_only_typed_fields(model: str, code: str) -> None:
    codec = sp_sync.FLOWS[model].target_codec
    data = {
        "premiseId": "PR-1",
        "spType": "E-COM",
        "address": {"city": "Leeds"},
        "billCycleCode": "BC01",
        "latitude": 53.8,
        "longitude": -1.55,
    }
    message = json.loads(codec.render(stored(data), "corr-1"))
    assert message == {
        "syncRequestId": "FW6-U1",
        "externalSystem": "CCB",
        "externalId": "SP-0001",
        "changedAt": "2026-11-20T08:00:00Z",
        "premiseId": "PR-1",
        "servicePointType": code,
        "address": {"city": "Leeds"},
        "latitude": 53.8,
        "longitude": -1.55,
    }
    assert codec.path(stored(data)) == "/service-points"
    assert codec.content_type == "application/json"


def test_a_code_no_longer_mapped_at_delivery_cannot_be_rendered() -> None:
    with pytest.raises(Problem) as refused:
        sp_sync.FLOWS["v2.1"].target_codec.render(stored({"premiseId": "PR-1", "spType": "X-GONE"}), "c")
    assert refused.value.status == 422


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"result": "POSITIVE", "targetId": "OSP-000001", "action": "CREATED"}, ("POSITIVE", "OSP-000001", None)),
        ({"result": "NEGATIVE", "reason": "locked"}, ("NEGATIVE", None, "locked")),
        ({"result": "ACCEPTED"}, ("ACCEPTED", None, None)),
    ],
)
def test_the_targets_answer_is_read_as_an_acknowledgement(answer: dict[str, Any], expected: tuple[Any, ...]) -> None:
    ack = sp_sync.FLOWS["v2.1"].target_codec.read_acknowledgement(json.dumps(answer).encode())
    assert (ack.result, ack.targetId, ack.reason) == expected


@pytest.mark.parametrize("body", [b"<ok/>", b'{"result": "MAYBE"}', b"{}"])
def test_an_unreadable_answer_is_a_problem(body: bytes) -> None:
    with pytest.raises(Problem):
        sp_sync.FLOWS["v2.1"].target_codec.read_acknowledgement(body)


# ---------------------------------------------------------------------------- the WAM/ODM simulators


def sync(simulator: FieldSystemSimulator, message: dict[str, Any]) -> tuple[int, dict[str, Any] | str]:
    reply = simulator.handle("POST", "/service-points", json.dumps(message).encode(), {})
    return reply.status, (json.loads(reply.body) if reply.content_type == "application/json" else reply.body.decode())


def message(
    sync_request_id: str, code: str = "ELECTRIC_RESIDENTIAL", changed: str = "2026-11-20T08:00:00Z", **extra: Any
) -> dict[str, Any]:
    return {
        "syncRequestId": sync_request_id,
        "externalSystem": "CCB",
        "externalId": "SP-0001",
        "changedAt": changed,
        "premiseId": "PR-1",
        "servicePointType": code,
        **extra,
    }


def test_odm_creates_updates_and_leaves_unchanged_and_answers_a_repeat_the_same() -> None:
    odm = FieldSystemSimulator("ODM", "FA-{:06d}")
    created = sync(odm, message("S1"))
    assert created == (200, {"result": "POSITIVE", "targetId": "OSP-000001", "action": "CREATED"})
    assert sync(odm, message("S1")) == created  # the same request again
    assert sync(odm, message("S2", changed="2026-11-21T08:00:00Z", timeZone="UTC"))[1]["action"] == "UPDATED"  # type: ignore[index]
    assert sync(odm, message("S3", changed="2026-11-22T08:00:00Z", timeZone="UTC"))[1]["action"] == "UNCHANGED"  # type: ignore[index]
    assert odm.records["SERVICE_POINT#SP-0001"]["version"] == 2
    assert odm.service_points.applied == {"S1": 1, "S2": 1, "S3": 1}
    assert odm.state(summary=True)["appliedServicePointSyncs"] == 3


def test_an_older_image_over_a_newer_one_is_counted() -> None:
    wam = FieldSystemSimulator("WAM", "SR-{:06d}")
    sync(wam, message("S1", code="ELEC-RES", changed="2026-11-21T08:00:00Z"))
    sync(wam, message("S2", code="ELEC-RES", changed="2026-11-20T08:00:00Z", timeZone="UTC"))
    assert wam.service_points.older_images == 1


def test_the_simulators_refuse_codes_not_their_own_and_invalid_messages() -> None:
    wam = FieldSystemSimulator("WAM", "SR-{:06d}")
    status, body = sync(wam, message("S1", code="ELECTRIC_RESIDENTIAL"))  # ODM's code, not WAM's
    assert status == 422
    assert "WAM" in str(body)
    with pytest.raises(SimulatorError, match="premiseId"):  # answered 400 by the simulator's server
        sync(wam, {"syncRequestId": "S2", "externalId": "SP-0001"})  # no premise, type, time
    assert wam.records == {}


def test_the_simulators_take_reject_and_accept_later_faults() -> None:
    odm = FieldSystemSimulator("ODM", "FA-{:06d}")
    odm.add_fault({"kind": "reject", "count": 1, "reason": "locked"})
    assert sync(odm, message("S1")) == (200, {"result": "NEGATIVE", "reason": "locked"})
    odm.add_fault({"kind": "accept_later", "count": 1})
    assert sync(odm, message("S2")) == (202, {"result": "ACCEPTED"})
    assert odm.records == {}


def test_mwm_keeps_no_service_points() -> None:
    mwm = FieldSystemSimulator("MWM", "MWM-{:08d}")
    assert sync(mwm, message("S1"))[0] == 404
