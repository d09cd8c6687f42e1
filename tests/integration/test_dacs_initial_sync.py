"""DA-01 initial synchronization: the Standard state machine with a Distributed Map over
CCB's JSON Lines extract, run by the local runtime (moto's ASL interpreter, the steps in-process):
eligible entities only, one file per record kind under extract/, counts in the summary, the same
run again writing nothing new; then the transfer and DACS's import of the files."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from localhub.aws.endpoint import reset
from localhub.hub import LocalHub
from localhub.simulators.ccb_extract import HOSTILE_NAMES, ccb_extract_lines, expected_counts
from localhub.simulators.dacs import DacsSimulator
from tests.conftest import sample_event
from utilhub.packs.dacs.extract_file import Kind, read_extract

FUNCTION = "DacsInitialSyncFunction"
STATE_MACHINE = "DacsInitialSyncStateMachine"


def put_source(hub: LocalHub, key: str, persons: int) -> None:
    boto3.client("s3").put_object(Bucket=hub.resources()["DacsExchangeBucket"], Key=key, Body=b"".join(ccb_extract_lines(persons)))


def run(hub: LocalHub, run_id: str, source_key: str, persons_per_part: int, name: str | None = None) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=hub.resources()[STATE_MACHINE],
        name=name or run_id,
        input=json.dumps({"runId": run_id, "sourceKey": source_key, "personsPerPart": persons_per_part}),
    )["executionArn"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            assert execution["status"] == "SUCCEEDED", execution
            return json.loads(execution["output"])  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running")


def test_the_initial_sync_writes_every_eligible_entity_once_in_one_file_per_kind_and_dacs_loads_them(hub: LocalHub) -> None:
    # Given CCB's extract of 230 persons (a fifth without an active agreement), in parts of 50 persons
    put_source(hub, "ccb/initial-a.jsonl", 230)

    # When the initial sync runs
    summary = run(hub, "initial-a", "ccb/initial-a.jsonl", 50)

    # Then its summary counts what the source holds that is eligible, over 5 parts
    assert summary["parts"] == 5
    assert {k: summary[k] for k in expected_counts(230)} == expected_counts(230)
    assert sorted(summary["files"]) == [
        "extract/contacts-initial-a.tsv",
        "extract/metered-service-points-initial-a.tsv",
        "extract/metered-services-initial-a.tsv",
    ]
    # And each file, once moved to upload/, reads back with one header and the counted records, hostile names intact
    hub.drain()
    s3 = boto3.client("s3")
    bucket = hub.resources()["DacsExchangeBucket"]
    contacts = s3.get_object(Bucket=bucket, Key="upload/contacts-initial-a.tsv")["Body"].read()
    records = list(read_extract([contacts], Kind.CONTACT))
    assert len(records) == summary["contacts"]
    assert len({r.values["externalReferenceId"] for r in records}) == len(records)
    assert {r.values["name"] for r in records} >= set(HOSTILE_NAMES)

    # And DACS loads every record of the three files positively
    dacs = hub.simulators["DACS"]
    assert isinstance(dacs, DacsSimulator)
    imported = dacs.import_uploads()
    assert [(i.status, i.negative) for i in imported] == [("LOADED", 0)] * 3
    assert dacs.state(summary=True)["recordsByType"] == {"CONTACT": 184, "METERED_SERVICE_POINT": 184, "METERED_SERVICE": 184}


@pytest.fixture
def closed_eligible_hub(aws_endpoint: str) -> Iterator[LocalHub]:
    """The hub deployed with DacsEligibleAgreementStatuses "ACTIVE,CLOSED"."""
    reset(aws_endpoint)
    local = LocalHub(parameters={"DacsEligibleAgreementStatuses": "ACTIVE,CLOSED"}).start()
    local.drain()
    yield local
    assert local.stop() == []


def test_the_eligible_statuses_are_the_deployments(closed_eligible_hub: LocalHub) -> None:
    # Given CCB's extract of 30 persons: six with a closed agreement only, ten more with a closed agreement beside
    # their active one, and a deployment whose DACS takes closed agreements too
    put_source(closed_eligible_hub, "ccb/initial-c.jsonl", 30)

    # When the initial sync runs
    summary = run(closed_eligible_hub, "initial-c", "ccb/initial-c.jsonl", 10)

    # Then every person is a contact, and every agreement a metered service with its service point
    assert {k: summary[k] for k in ("personsIneligible", "contacts", "meteredServices", "meteredServicePoints")} == {
        "personsIneligible": 0,
        "contacts": 30,
        "meteredServices": 40,
        "meteredServicePoints": 40,
    }
    # whereas the default deployment writes the 24 persons with an active agreement, each with that one agreement
    assert expected_counts(30)["contacts"] == 24


def test_a_source_line_with_a_control_character_fails_its_part_and_writes_nothing(hub: LocalHub) -> None:
    # Given CCB's extract whose second person's name holds a carriage return (the file bypasses the API)
    lines = list(ccb_extract_lines(5))
    person = json.loads(lines[1])
    person["person"]["name"] = "Carriage\rReturn"
    lines[1] = json.dumps(person).encode() + b"\n"
    bucket = hub.resources()["DacsExchangeBucket"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="ccb/initial-cr.jsonl", Body=b"".join(lines))
    plan = hub.invoke(FUNCTION, {"step": "plan", "runId": "initial-cr", "sourceKey": "ccb/initial-cr.jsonl", "personsPerPart": 5}).result
    ranges = json.loads(s3.get_object(Bucket=plan["bucket"], Key=plan["rangesKey"])["Body"].read())

    # When the part holding it runs
    part = hub.invoke(FUNCTION, {"step": "part", "range": ranges[0]})

    # Then it fails naming the field (the same text rule as every route's body), and no part file or count is written
    assert part.failed
    assert "#/person/name contains a control character" in json.dumps(part.error)
    assert s3.list_objects_v2(Bucket=bucket, Prefix="work/initial-cr/contacts/").get("KeyCount", 0) == 0
    assert s3.list_objects_v2(Bucket=bucket, Prefix="work/initial-cr/counts/").get("KeyCount", 0) == 0


def test_the_same_run_started_again_writes_nothing_new(hub: LocalHub) -> None:
    # Given an initial sync that completed
    put_source(hub, "ccb/initial-b.jsonl", 40)
    first = run(hub, "initial-b", "ccb/initial-b.jsonl", 15)
    hub.drain()
    s3 = boto3.client("s3")
    bucket = hub.resources()["DacsExchangeBucket"]

    # When it is started again (a new execution of the same run id)
    again = run(hub, "initial-b", "ccb/initial-b.jsonl", 15, name="initial-b-restarted")

    # Then it answers the same summary and writes no file again
    assert again == first
    assert s3.list_objects_v2(Bucket=bucket, Prefix="extract/").get("KeyCount", 0) == 0


def test_the_sample_events_run_each_step(hub: LocalHub) -> None:
    # Given the source the sample plan names
    put_source(hub, "ccb/initial-20261120.jsonl", 12)

    # When the steps run from their sample events
    plan = hub.invoke(FUNCTION, sample_event("dacs/initial_sync/plan.json")).result
    part = hub.invoke(FUNCTION, sample_event("dacs/initial_sync/part.json")).result
    joined = hub.invoke(FUNCTION, sample_event("dacs/initial_sync/join.json")).result

    # Then the plan cuts 12 persons in 3 ranges, the first part reads its 5 persons, and the join counts them
    assert plan["parts"] == 3
    assert (part["index"], part["personsRead"]) == (0, 5)
    assert joined["personsRead"] == 5


def test_parts_of_at_least_5_mib_are_joined_server_side_byte_for_byte(hub: LocalHub) -> None:
    from utilhub.packs.dacs.initial import InitialSync
    from utilhub.packs.dacs.s3_sink import MIN_PART

    # Given three part files, the first two of S3's minimum part size and a short last one
    s3 = boto3.client("s3")
    bucket = hub.resources()["DacsExchangeBucket"]
    parts = [bytes([65 + n]) * MIN_PART for n in range(2)] + [b"last\n"]
    for n, data in enumerate(parts):
        s3.put_object(Bucket=bucket, Key=f"work/join/contacts/part-{n:06d}.tsv", Body=data)

    # When they are joined
    joined = InitialSync(s3, bucket)._join_parts([f"work/join/contacts/part-{n:06d}.tsv" for n in range(3)], "work/join/joined.tsv")

    # Then the copy is server-side (UploadPartCopy) and the file is the parts in order
    assert joined == {"bytes": 2 * MIN_PART + 5, "joinedBy": "UploadPartCopy"}
    assert s3.get_object(Bucket=bucket, Key="work/join/joined.tsv")["Body"].read() == b"".join(parts)


def test_a_file_larger_than_a_part_is_streamed_as_a_multipart_upload_and_appears_only_when_complete(hub: LocalHub) -> None:
    from utilhub.packs.dacs.s3_sink import MIN_PART, S3ObjectSink

    # Given a sink writing 2.5 parts' worth of lines
    s3 = boto3.client("s3")
    bucket = hub.resources()["DacsExchangeBucket"]
    sink = S3ObjectSink(s3, bucket, "work/big.tsv", part_size=MIN_PART)
    line = b"x" * 1023 + b"\n"
    for _ in range(MIN_PART * 5 // 2 // len(line)):
        sink.write(line)

    # When it has written two parts, nothing is under the key yet; when closed, the whole file is
    assert s3.list_objects_v2(Bucket=bucket, Prefix="work/big.tsv").get("KeyCount", 0) == 0
    sink.close()
    body = s3.get_object(Bucket=bucket, Key="work/big.tsv")["Body"].read()
    assert len(body) == sink.size == (MIN_PART * 5 // 2 // len(line)) * len(line)
    assert set(body.split(b"\n")[:-1]) == {b"x" * 1023}

    # And an aborted sink leaves nothing behind
    aborted = S3ObjectSink(s3, bucket, "work/aborted.tsv", part_size=MIN_PART)
    aborted.write(b"y" * (MIN_PART + 1))
    aborted.abort()
    assert s3.list_objects_v2(Bucket=bucket, Prefix="work/aborted.tsv").get("KeyCount", 0) == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
