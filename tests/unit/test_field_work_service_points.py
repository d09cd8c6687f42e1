"""FW-01: an activity reaches WAM or ODM at the service point by their own id, FW-06's cross-reference of CCB's, read
by key; CCB and MWM get CCB's id; a service point not synchronized to the asset system yet is a retryable error the
workflow names (packs/field_work/service_points.py, statemachines/field-activity-creation.asl.json)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from localhub.template import ROOT, Template
from utilhub.packs.field_work.model import ActivityIn
from utilhub.packs.field_work.service_points import ServicePointNotSynchronized, service_point_in
from utilhub.platform.xref import CrossReferenceStore, SystemId


@pytest.fixture
def xref(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CrossReferenceStore, Any]]:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="eu-west-1").create_table(
            TableName="xref",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield CrossReferenceStore(table), table


def activity(source: str = "CCB", service_point: str = "SP-0001") -> ActivityIn:
    return ActivityIn.model_validate(
        {"sourceSystem": source, "activityId": "FA-1", "activityType": "METER-EXCHANGE", "servicePointId": service_point}
    )


def test_wam_and_odm_get_their_own_id_of_the_service_point_by_one_key_read(xref: tuple[CrossReferenceStore, Any]) -> None:
    # Given FW-06 synchronized CCB's SP-0001 to ODM as OSP-000007 and to WAM as WSP-000003
    store, table = xref
    store.link("SERVICE_POINT", SystemId("CCB", "SP-0001"), SystemId("ODM", "OSP-000007"))
    store.link("SERVICE_POINT", SystemId("CCB", "SP-0001"), SystemId("WAM", "WSP-000003"))
    reads: list[dict[str, Any]] = []
    table.meta.client.meta.events.register(
        "provide-client-params.dynamodb.*", lambda params, model, **_: reads.append({model.name: params})
    )

    # When CCB's activity at SP-0001 is created in ODM and in WAM
    in_odm, in_wam = service_point_in("ODM", activity(), store), service_point_in("WAM", activity(), store)

    # Then each gets its own id, each read by its key
    assert (in_odm, in_wam) == ("OSP-000007", "WSP-000003")
    assert [list(r) for r in reads] == [["GetItem"], ["GetItem"]]
    assert all(r["GetItem"]["Key"] == {"pk": "SERVICE_POINT#CCB#SP-0001"} for r in reads)


@pytest.mark.parametrize("target", ["CCB", "MWM"])
def test_ccb_and_mwm_keep_ccbs_id(xref: tuple[CrossReferenceStore, Any], target: str) -> None:
    store, _ = xref
    store.link("SERVICE_POINT", SystemId("CCB", "SP-0001"), SystemId("ODM", "OSP-000007"))
    assert service_point_in(target, activity(source="MWM" if target == "CCB" else "CCB"), store) == "SP-0001"


def test_an_activity_the_asset_system_sent_keeps_its_own_id(xref: tuple[CrossReferenceStore, Any]) -> None:
    # ODM's own activity names the service point by ODM's id already: nothing to look up
    assert service_point_in("ODM", activity(source="ODM", service_point="OSP-000007"), xref[0]) == "OSP-000007"


@pytest.mark.parametrize("target", ["WAM", "ODM"])
def test_a_service_point_not_synchronized_to_the_asset_system_is_a_retryable_error_naming_it(
    xref: tuple[CrossReferenceStore, Any], target: str
) -> None:
    # Given SP-0002 synchronized to the other asset system only (another model's history), SP-0003 to none
    store, _ = xref
    other = "ODM" if target == "WAM" else "WAM"
    store.link("SERVICE_POINT", SystemId("CCB", "SP-0002"), SystemId(other, "X-1"))

    # Then an activity at either is not created in the target: the error says why
    for service_point in ("SP-0002", "SP-0003"):
        with pytest.raises(ServicePointNotSynchronized) as raised:
            service_point_in(target, activity(service_point=service_point), store)
        assert str(raised.value) == f"service point {service_point} not yet synchronized to {target} (FW-06)"


def test_the_workflow_retries_the_create_while_the_service_point_is_not_synchronized_as_a_target_down() -> None:
    # Step Functions matches the error's name: the create step's retrier for a target down names it too
    machine = Template.load().resources["FieldActivityStateMachine"]["Properties"]
    definition = json.loads((ROOT / machine["DefinitionUri"]).read_text(encoding="utf-8"))
    create = definition["States"]["CreateInTargets"]["Iterator"]["States"]["CreateInTarget"]
    retrier = next(r for r in create["Retry"] if "TargetUnavailable" in r["ErrorEquals"])
    assert ServicePointNotSynchronized.__name__ in retrier["ErrorEquals"]
