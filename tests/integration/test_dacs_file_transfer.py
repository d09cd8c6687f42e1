"""DA-03 extract file transfer and the DACS import of what it moved: a file written under
extract/ of the exchange bucket is notified by S3 to the transfer queue, moved to upload/ by the
transfer function in-process, verified before its source goes, and read by the DACS simulator.
Resources from the template in moto."""

from __future__ import annotations

import hashlib
import io
import json
import random
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from localhub.aws.provision import local_bucket_policy
from localhub.aws.throttling import AwsThrottling
from localhub.hub import LocalHub
from localhub.simulators.dacs import DacsSimulator
from localhub.template import Template
from tests.conftest import sample_event
from utilhub.packs.dacs.extract_file import ExtractWriter, Kind
from utilhub.packs.dacs.records import ContactRecord, MeteredServicePointRecord, MeteredServiceRecord
from utilhub.packs.dacs.transfer import COPY_CONFIG, ExtractFileMover, TransferNotVerified

FUNCTION = "DacsFileTransferFunction"
MiB = 1024 * 1024
S3_SINGLE_COPY_LIMIT = 5 * 1024 * MiB  # CopyObject refuses a source larger than 5 GB
HOSTILE_NAMES = ["Tab\there", "Line\nbreak", "Back\\slash \\t", "Carriage\rreturn", "Ünïcødé 日本語 🚰", "x"]


def s3() -> Any:
    return boto3.client("s3")


def bucket(hub: LocalHub) -> str:
    return hub.resources()["DacsExchangeBucket"]


def dacs(hub: LocalHub) -> DacsSimulator:
    simulator = hub.simulators["DACS"]
    assert isinstance(simulator, DacsSimulator)
    return simulator


def extract_bytes(kind: Kind, records: list[Any]) -> bytes:
    sink = io.BytesIO()
    writer = ExtractWriter(sink, kind)
    writer.write_all(record.row() for record in records)
    writer.close()
    return sink.getvalue()


def put_extract(hub: LocalHub, name: str, data: bytes, *, with_checksum: bool = True) -> None:
    metadata = {"sha256": hashlib.sha256(data).hexdigest()} if with_checksum else {}
    s3().put_object(Bucket=bucket(hub), Key=f"extract/{name}", Body=data, Metadata=metadata)


def keys(hub: LocalHub, prefix: str) -> list[str]:
    return sorted(item["Key"] for item in s3().list_objects_v2(Bucket=bucket(hub), Prefix=prefix).get("Contents", []))


def body(hub: LocalHub, key: str) -> bytes:
    return s3().get_object(Bucket=bucket(hub), Key=key)["Body"].read()  # type: ignore[no-any-return]


def queue_counts(hub: LocalHub, logical_id: str) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=hub.resources()[logical_id], AttributeNames=["All"])["Attributes"]
    return attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]


def contacts(count: int = len(HOSTILE_NAMES)) -> list[ContactRecord]:
    return [
        ContactRecord(externalReferenceId=f"P{n:04d}", changeDateTime="2026-03-01T10:00:00Z", name=HOSTILE_NAMES[n % len(HOSTILE_NAMES)])
        for n in range(count)
    ]


def test_the_exchange_bucket_is_encrypted_tls_only_private_and_expires_what_dacs_never_took(hub: LocalHub) -> None:
    # Given the exchange bucket as the template made it
    name = bucket(hub)

    # Then it is encrypted with the data key, public access is blocked, plain HTTP is denied, and a lifecycle rule expires files
    rule = s3().get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(s3().get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())
    [deny] = Template.load().resources["DacsExchangeBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Action"], deny["Condition"]) == ("Deny", "s3:*", {"Bool": {"aws:SecureTransport": "false"}})
    # (the local endpoint serves plain HTTP: there the TLS statement is left out, as localhub.aws.provision says)
    assert local_bucket_policy({"Version": "2012-10-17", "Statement": [deny]}) is None
    [lifecycle] = s3().get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert lifecycle["Expiration"]["Days"] == 30
    assert lifecycle["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1


def test_a_file_created_under_extract_is_moved_to_upload_unchanged_and_dacs_loads_every_hostile_value(hub: LocalHub) -> None:
    # Given a contacts file with hostile names written under extract/
    data = extract_bytes(Kind.CONTACT, contacts())
    put_extract(hub, "contacts-run1.tsv", data)

    # When S3's notification is handled
    assert hub.drain() >= 1

    # Then the file is under upload/ byte for byte, no longer under extract/, and nothing is left queued
    assert keys(hub, "extract/") == []
    assert keys(hub, "upload/") == ["upload/contacts-run1.tsv"]
    assert body(hub, "upload/contacts-run1.tsv") == data
    assert queue_counts(hub, "DacsTransferQueue") == ("0", "0")
    assert queue_counts(hub, "DacsTransferDeadLetterQueue") == ("0", "0")

    # And DACS imports it: every record loaded with its value intact, each acknowledged positively
    [imported] = dacs(hub).import_uploads()
    assert (imported.status, imported.positive, imported.negative) == ("LOADED", len(HOSTILE_NAMES), 0)
    assert [dacs(hub).records[f"CONTACT#P{n:04d}"]["name"] for n in range(len(HOSTILE_NAMES))] == HOSTILE_NAMES
    assert keys(hub, "upload/") == []
    assert keys(hub, "processed/") == ["processed/contacts-run1.tsv"]
    assert {ack["result"] for ack in dacs(hub).pending_acknowledgements} == {"POSITIVE"}


def test_a_redelivered_notification_moves_nothing_twice_even_after_dacs_took_the_file(hub: LocalHub) -> None:
    # Given a file moved, and DACS having taken it from upload/ already
    put_extract(hub, "contacts-run2.tsv", extract_bytes(Kind.CONTACT, contacts(2)))
    sqs = boto3.client("sqs")
    queue = hub.resources()["DacsTransferQueue"]
    notifications = []
    for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        notifications.append(message["Body"])
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    hub.drain()
    dacs(hub).import_uploads()

    # When S3's notification is delivered again
    for notification in notifications:
        sqs.send_message(QueueUrl=queue, MessageBody=notification)
    hub.drain()

    # Then it succeeds without moving anything, nothing is in the DLQ, and DACS loaded the file once
    assert [n for n in notifications if "contacts-run2.tsv" in n]
    assert keys(hub, "upload/") == keys(hub, "extract/") == []
    assert queue_counts(hub, "DacsTransferDeadLetterQueue") == ("0", "0")
    assert [i.key for i in dacs(hub).imports] == ["upload/contacts-run2.tsv"]


def recorded_calls(client: Any) -> list[tuple[str, str]]:
    """Every S3 operation ``client`` makes from now on, with the key it names, in order (transfer threads included)."""
    calls: list[tuple[str, str]] = []
    client.meta.events.register("before-parameter-build.s3", lambda model, params, **_: calls.append((model.name, params.get("Key", ""))))
    return calls


def test_a_file_over_the_multipart_threshold_is_copied_in_parts_and_verified_before_its_source_goes(hub: LocalHub) -> None:
    # Given an 11 MiB file under extract/ without checksum metadata (as a multipart writer leaves it), and a mover
    # copying in parts of 5 MiB from 5 MiB on (the deployed mover does so well below CopyObject's 5 GB limit)
    assert COPY_CONFIG.multipart_threshold < S3_SINGLE_COPY_LIMIT
    data = random.Random(3).randbytes(11 * MiB)
    s3().put_object(Bucket=bucket(hub), Key="extract/contacts-big.tsv", Body=data)
    client = s3()
    calls = recorded_calls(client)
    mover = ExtractFileMover(client, bucket(hub), copy_config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))

    # When it is moved
    result = mover.move("extract/contacts-big.tsv")

    # Then it was copied server-side in three parts, never with a single CopyObject
    operations = [name for name, _ in calls]
    assert operations.count("UploadPartCopy") == 3
    assert "CopyObject" not in operations
    # And the copy was read back whole after the upload completed, and only then was the source deleted
    completed = calls.index(("CompleteMultipartUpload", "upload/contacts-big.tsv"))
    deleted = calls.index(("DeleteObject", "extract/contacts-big.tsv"))
    assert completed < calls.index(("GetObject", "upload/contacts-big.tsv"), completed) < deleted
    assert calls[deleted:] == [("DeleteObject", "extract/contacts-big.tsv")]
    # And the file is under upload/ byte for byte, with its checksum, and gone from extract/
    assert (result.outcome, result.size, result.sha256) == ("MOVED", len(data), hashlib.sha256(data).hexdigest())
    assert body(hub, "upload/contacts-big.tsv") == data
    assert s3().head_object(Bucket=bucket(hub), Key="upload/contacts-big.tsv")["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert keys(hub, "extract/") == []


def test_a_multipart_copy_that_fails_half_way_leaves_the_source_and_no_parts(hub: LocalHub) -> None:
    # Given an 11 MiB file under extract/, and S3 refusing the second part's copy
    data = random.Random(4).randbytes(11 * MiB)
    s3().put_object(Bucket=bucket(hub), Key="extract/contacts-big2.tsv", Body=data)
    client = s3()
    parts: list[int] = []

    def refuse_the_second_part(params: dict[str, Any], **_: Any) -> None:
        parts.append(params["PartNumber"])
        if params["PartNumber"] == 2:
            raise _Interrupted("UploadPartCopy")

    client.meta.events.register("before-parameter-build.s3.UploadPartCopy", refuse_the_second_part)
    mover = ExtractFileMover(client, bucket(hub), copy_config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))

    # When it is moved, then the move fails
    with pytest.raises(_Interrupted):
        mover.move("extract/contacts-big2.tsv")

    # And the source is whole under extract/, nothing is under upload/, and no part is left behind
    assert 2 in parts
    assert body(hub, "extract/contacts-big2.tsv") == data
    assert keys(hub, "upload/") == []
    assert s3().list_multipart_uploads(Bucket=bucket(hub)).get("Uploads", []) == []

    # And the notification tried again moves it
    assert ExtractFileMover(s3(), bucket(hub)).move("extract/contacts-big2.tsv").outcome == "MOVED"
    assert body(hub, "upload/contacts-big2.tsv") == data


def notifications_of(hub: LocalHub) -> list[str]:
    """The bodies of the notifications now on the transfer queue, left there to be delivered."""
    sqs = boto3.client("sqs")
    queue = hub.resources()["DacsTransferQueue"]
    bodies = []
    for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        bodies.append(message["Body"])
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return bodies


def forget_idempotency_records(hub: LocalHub) -> int:
    """Delete every idempotency record, as their expiry (a day) does."""
    table = boto3.resource("dynamodb").Table(hub.resources()["IdempotencyTable"])
    items = table.scan(ProjectionExpression="id")["Items"]
    for item in items:
        table.delete_item(Key={"id": item["id"]})
    return len(items)


def redeliver(hub: LocalHub, notifications: list[str]) -> None:
    for notification in notifications:
        boto3.client("sqs").send_message(QueueUrl=hub.resources()["DacsTransferQueue"], MessageBody=notification)
    hub.drain()
    hub.expire_visibility()
    hub.drain()


def test_a_notification_redelivered_after_its_record_expired_is_done_whether_the_file_waits_in_upload_or_dacs_took_it(
    hub: LocalHub,
) -> None:
    # Given one file moved and taken by DACS, another moved and waiting under upload/, and their idempotency records gone
    put_extract(hub, "contacts-run8.tsv", extract_bytes(Kind.CONTACT, contacts(2)))
    taken = notifications_of(hub)
    hub.drain()
    dacs(hub).import_uploads()
    put_extract(hub, "contacts-run9.tsv", extract_bytes(Kind.CONTACT, contacts(3)))
    waiting = notifications_of(hub)
    hub.drain()
    assert keys(hub, "upload/") == ["upload/contacts-run9.tsv"]
    assert forget_idempotency_records(hub) == 2

    # When S3's notifications of both are delivered again
    redeliver(hub, taken + waiting)

    # Then both are done: nothing retried or in the DLQ, nothing moved or loaded twice
    assert queue_counts(hub, "DacsTransferQueue") == ("0", "0")
    assert queue_counts(hub, "DacsTransferDeadLetterQueue") == ("0", "0")
    assert keys(hub, "extract/") == []
    assert keys(hub, "upload/") == ["upload/contacts-run9.tsv"]
    assert [i.key for i in dacs(hub).imports] == ["upload/contacts-run8.tsv"]
    mover = ExtractFileMover(s3(), bucket(hub))
    assert mover.move("extract/contacts-run8.tsv").outcome == "ALREADY_TAKEN"
    assert mover.move("extract/contacts-run9.tsv").outcome == "ALREADY_IN_UPLOAD"


def emitted_metrics(output: str) -> dict[str, float]:
    """The metrics the functions emitted (CloudWatch's embedded metric format, one JSON object a line)."""
    emitted: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = blob[metric["Name"]]
                emitted[metric["Name"]] = emitted.get(metric["Name"], 0) + (sum(value) if isinstance(value, list) else value)
    return emitted


def test_a_notification_of_a_file_that_never_existed_or_vanished_unmoved_is_not_retried_and_is_alarmed(
    hub: LocalHub, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a notification naming a file the bucket never held, and a file deleted under extract/ before it was moved
    data = extract_bytes(Kind.CONTACT, contacts(1))
    put_extract(hub, "contacts-run10.tsv", data)
    [vanished] = notifications_of(hub)
    version = s3().head_object(Bucket=bucket(hub), Key="extract/contacts-run10.tsv")["VersionId"]
    s3().delete_object(Bucket=bucket(hub), Key="extract/contacts-run10.tsv")
    never = vanished.replace("contacts-run10.tsv", "contacts-never.tsv")
    capsys.readouterr()

    # When both notifications are delivered (the vanished file's is still on the queue)
    redeliver(hub, [never])

    # Then neither is retried (no retry can make the file appear) nor left in a queue, and each is counted
    # in the metric the template's alarm watches
    assert queue_counts(hub, "DacsTransferQueue") == ("0", "0")
    assert queue_counts(hub, "DacsTransferDeadLetterQueue") == ("0", "0")
    assert emitted_metrics(capsys.readouterr().out).get("DacsTransferFileMissing") == 2
    alarm = Template.load().resources["DacsTransferFileMissingAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("utilhub", "DacsTransferFileMissing", 0)
    # And each outcome says which it is; the vanished file names its version, still there to be restored
    mover = ExtractFileMover(s3(), bucket(hub))
    assert mover.move("extract/contacts-never.tsv").outcome == "NEVER_EXISTED"
    unmoved = mover.move("extract/contacts-run10.tsv")
    assert (unmoved.outcome, unmoved.version) == ("DELETED_UNMOVED", version)
    assert s3().get_object(Bucket=bucket(hub), Key="extract/contacts-run10.tsv", VersionId=version)["Body"].read() == data
    assert keys(hub, "upload/") == []


class _Interrupted(Exception):
    """A move stopped at the operation that failed (a crash at that point)."""


class _FailingS3:
    """The real client (against moto) with one operation failing, as a crash at that point of a move would."""

    def __init__(self, client: Any, operation: str, *, times: int = 1, corrupt: bool = False) -> None:
        self._client, self._operation, self._times, self._corrupt = client, operation, times, corrupt

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)
        if name != self._operation or self._times == 0:
            return call

        def failing(**kwargs: Any) -> Any:
            self._times -= 1
            if self._corrupt:  # the copy lands, but not as the source: a truncated object
                return self._client.put_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=b"truncated")
            raise _Interrupted(name)

        return failing


def test_a_move_interrupted_half_way_loses_nothing_and_completes_when_tried_again(hub: LocalHub) -> None:
    # Given a file under extract/, and a move that stops after the copy, before the source is deleted
    data = extract_bytes(Kind.CONTACT, contacts(3))
    s3().put_object(Bucket=bucket(hub), Key="extract/contacts-run3.tsv", Body=data)  # no checksum metadata: the mover computes it
    interrupted = ExtractFileMover(_FailingS3(s3(), "delete_object"), bucket(hub))

    # When it is interrupted, then the file is in both places, whole
    with pytest.raises(_Interrupted):
        interrupted.move("extract/contacts-run3.tsv")
    assert body(hub, "extract/contacts-run3.tsv") == body(hub, "upload/contacts-run3.tsv") == data

    # And when tried again, it completes: verified, the source deleted, the copy kept
    result = ExtractFileMover(s3(), bucket(hub)).move("extract/contacts-run3.tsv")
    assert (result.outcome, result.size, result.sha256) == ("MOVED", len(data), hashlib.sha256(data).hexdigest())
    assert keys(hub, "extract/") == []
    assert body(hub, "upload/contacts-run3.tsv") == data


def test_a_copy_dacs_took_before_its_source_was_deleted_is_not_copied_again(hub: LocalHub) -> None:
    # Given a move whose copy is made and verified, and whose deletion of the source fails (throttled past
    # boto3's retries), so the notification is delivered again later
    data = extract_bytes(Kind.CONTACT, contacts(2))
    with AwsThrottling(1.0, services=frozenset({"s3"}), operations=frozenset({"s3.DeleteObject"})):
        put_extract(hub, "contacts-run11.tsv", data)
        hub.drain()
    assert keys(hub, "extract/") == ["extract/contacts-run11.tsv"]
    assert body(hub, "upload/contacts-run11.tsv") == data

    # When DACS takes the copy from upload/ meanwhile, and the notification is delivered again
    dacs(hub).import_uploads()
    hub.expire_visibility()
    hub.drain()
    dacs(hub).import_uploads()

    # Then the move is done without a second copy: DACS imported the file once and loaded each record once
    assert keys(hub, "extract/") == keys(hub, "upload/") == []
    assert queue_counts(hub, "DacsTransferQueue") == ("0", "0")
    assert queue_counts(hub, "DacsTransferDeadLetterQueue") == ("0", "0")
    assert [i.key for i in dacs(hub).imports] == ["upload/contacts-run11.tsv"]
    assert {key: record["version"] for key, record in dacs(hub).records.items()} == {"CONTACT#P0000": 1, "CONTACT#P0001": 1}


def test_a_copy_that_does_not_verify_is_deleted_and_the_source_kept(hub: LocalHub) -> None:
    # Given a file under extract/ with its writer's checksum, and a copy that lands truncated
    data = extract_bytes(Kind.CONTACT, contacts(2))
    s3().put_object(Bucket=bucket(hub), Key="extract/contacts-run4.tsv", Body=data, Metadata={"sha256": hashlib.sha256(data).hexdigest()})
    mover = ExtractFileMover(_FailingS3(s3(), "copy", corrupt=True), bucket(hub))

    # When moved, then the move fails, the bad copy is gone and the source is untouched
    with pytest.raises(TransferNotVerified):
        mover.move("extract/contacts-run4.tsv")
    assert keys(hub, "upload/") == []
    assert body(hub, "extract/contacts-run4.tsv") == data

    # And a stale copy left under upload/ by an earlier attempt is replaced by the right one
    s3().put_object(Bucket=bucket(hub), Key="upload/contacts-run4.tsv", Body=b"stale")
    assert ExtractFileMover(s3(), bucket(hub)).move("extract/contacts-run4.tsv").outcome == "MOVED"
    assert body(hub, "upload/contacts-run4.tsv") == data


def test_a_file_that_cannot_be_moved_ends_in_the_dlq_and_stays_under_extract(hub: LocalHub) -> None:
    # Given every S3 call of the transfer function failing (S3 throttling beyond boto3's retries)
    data = extract_bytes(Kind.CONTACT, contacts(1))
    with AwsThrottling(1.0, services=frozenset({"s3"})):
        put_extract(hub, "contacts-run5.tsv", data)

        # When the notification is tried as often as the queue's redrive allows
        for _ in range(6):
            hub.drain()
            hub.expire_visibility()

    # Then the notification is in the DLQ and the file is still under extract/, whole
    assert queue_counts(hub, "DacsTransferDeadLetterQueue")[0] == "1"
    assert queue_counts(hub, "DacsTransferQueue") == ("0", "0")
    assert body(hub, "extract/contacts-run5.tsv") == data
    assert keys(hub, "upload/") == []


def test_dacs_refuses_a_broken_file_whole_and_answers_each_record_of_a_valid_one(hub: LocalHub) -> None:
    # Given, under upload/, a contacts file, a service points file with a stale image, a services file with an
    # unknown contact, a file whose third line has a field too many, and a file that is not a DACS extract
    good = extract_bytes(Kind.CONTACT, contacts(2))
    points = [
        MeteredServicePointRecord(externalReferenceId="SP1", changeDateTime="2026-03-01T10:00:00Z", premiseId="PR1"),
        MeteredServicePointRecord(externalReferenceId="SP1", changeDateTime="2026-03-01T09:00:00Z", premiseId="PR-OLD"),
    ]
    services = [
        MeteredServiceRecord(
            externalReferenceId=f"SA{n}",
            changeDateTime="2026-03-01T10:00:00Z",
            contactExternalReferenceId=person,
            accountId="AC1",
            meteredServicePointExternalReferenceIds="SP1",
        )
        for n, person in enumerate(["P0000", "P9999"])
    ]
    broken = good + b"P0009\t2026-03-01T10:00:00Z\tName" + b"\t" * 11 + b"\n"
    for name, data in [
        ("contacts-r6.tsv", good),
        ("metered-service-points-r6.tsv", extract_bytes(Kind.METERED_SERVICE_POINT, points)),
        ("metered-services-r6.tsv", extract_bytes(Kind.METERED_SERVICE, services)),
        ("contacts-r6b.tsv", broken),
        ("notes.txt", b"hello\n"),
    ]:
        s3().put_object(Bucket=bucket(hub), Key=f"upload/{name}", Body=data)

    # When DACS imports
    results = {item.key.removeprefix("upload/"): item for item in dacs(hub).import_uploads()}

    # Then the broken and the foreign files are refused whole, with the line and the reason
    assert results["contacts-r6b.tsv"].status == "REJECTED"
    assert results["contacts-r6b.tsv"].reason == "line 4: 14 fields where the header has 13"
    assert results["notes.txt"].status == "REJECTED"
    assert keys(hub, "rejected/") == ["rejected/contacts-r6b.tsv", "rejected/notes.txt"]
    # And each record of the others is answered: the stale image and the unknown contact negatively
    assert (results["metered-service-points-r6.tsv"].positive, results["metered-service-points-r6.tsv"].negative) == (1, 1)
    assert dacs(hub).records["METERED_SERVICE_POINT#SP1"]["premiseId"] == "PR1"
    answers = {(a["recordType"], a["externalReferenceId"], a["result"]) for a in dacs(hub).pending_acknowledgements}
    assert ("METERED_SERVICE", "SA0", "POSITIVE") in answers
    assert ("METERED_SERVICE", "SA1", "NEGATIVE") in answers
    [unknown] = [a for a in dacs(hub).pending_acknowledgements if a["externalReferenceId"] == "SA1"]
    assert unknown["reason"] == "unknown contact P9999"
    assert "CONTACT#P0009" not in dacs(hub).records


def test_the_sample_notification_is_handled_as_s3_sends_it(hub: LocalHub) -> None:
    # Given the sample SQS batch carrying S3's notification of a contacts file, and that file under extract/
    event = sample_event("dacs/file_transfer/extract-file-created.json")
    notified = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["key"]
    data = extract_bytes(Kind.CONTACT, contacts(1))
    s3().put_object(Bucket=bucket(hub), Key=notified, Body=data)
    event["Records"][0]["body"] = event["Records"][0]["body"].replace("utilhub-dev-dacs-exchange-123456789012-eu-west-1", bucket(hub))

    # When the function takes the sample batch and S3's test event
    invocation = hub.invoke(FUNCTION, event)
    test_event = sample_event("dacs/file_transfer/s3-test-event.json")
    answered = hub.invoke(FUNCTION, test_event)

    # Then both succeed, and the notified file is under upload/
    assert notified == "extract/contacts-20260301T100000Z-incremental.tsv"
    assert invocation.result == {"batchItemFailures": []}
    assert answered.result == {"batchItemFailures": []}
    assert keys(hub, "upload/") == ["upload/contacts-20260301T100000Z-incremental.tsv"]


def test_dacs_down_leaves_the_files_in_upload_until_it_imports_them(hub: LocalHub) -> None:
    import requests

    # Given a file moved to upload/, and DACS down for its next two calls
    put_extract(hub, "contacts-run7.tsv", extract_bytes(Kind.CONTACT, contacts(2)))
    hub.drain()
    dacs(hub).add_fault({"kind": "down", "count": 2})
    url = hub.simulator_url("DACS")

    # When its scheduler asks it to import, then it answers 503 and the file waits under upload/
    assert [requests.post(f"{url}/imports", timeout=10).status_code for _ in range(2)] == [503, 503]
    assert keys(hub, "upload/") == ["upload/contacts-run7.tsv"]

    # And once it is back, it imports the file, once
    answered = requests.post(f"{url}/imports", timeout=10)
    assert answered.status_code == 200
    assert [(i["key"], i["status"], i["positive"]) for i in answered.json()] == [("upload/contacts-run7.tsv", "LOADED", 2)]
    assert requests.post(f"{url}/imports", timeout=10).json() == []
    assert keys(hub, "upload/") == []


@pytest.fixture
def pooled_hub(aws_endpoint: str) -> Any:
    """The DACS pack alone, its functions each in an execution environment of its own (so one can be killed)."""
    from localhub.aws.endpoint import reset
    from localhub.lambda_.workers import WorkerPool

    reset(aws_endpoint)
    local = LocalHub(workers=WorkerPool(max_processes=4), parameters={"Packs": "dacs"}).start()
    local.drain()
    yield local
    local.stop()


def in_progress_claims(hub: LocalHub, function: str) -> list[dict[str, Any]]:
    table = hub.function(FUNCTION).environment["UTILHUB_IDEMPOTENCY_TABLE"]
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return [item for item in items if item["status"]["S"] == "INPROGRESS" and f"#{function}#" in item["id"]["S"]]


def test_a_move_whose_environment_was_killed_is_made_when_its_notification_comes_back(pooled_hub: LocalHub) -> None:
    # Given a file under extract/, and the transfer's execution environment killed in the middle of its move, after it
    # claimed the notification's idempotency key
    hub = pooled_hub
    assert hub.workers is not None
    data = extract_bytes(Kind.CONTACT, contacts(2))
    hub.workers.crash(FUNCTION, count=1, after_calls=3)
    put_extract(hub, "contacts-crash.tsv", data)
    assert hub.drain() >= 1
    assert hub.workers.crashed == {FUNCTION: 1}
    assert keys(hub, "extract/") == ["extract/contacts-crash.tsv"]
    assert len(in_progress_claims(hub, hub.function(FUNCTION).name)) == 1  # the dead invocation's claim, until its deadline

    # When the notification comes back after its visibility timeout (at least the function's timeout: past the claim's
    # deadline, as SQS and Lambda require of a queue a function reads)
    assert hub.expire_visibility() == 1
    hub.drain()

    # Then the move is made, not refused as "in progress" by the claim of an invocation that no longer runs
    assert keys(hub, "extract/") == []
    assert keys(hub, "upload/") == ["upload/contacts-crash.tsv"]
    assert body(hub, "upload/contacts-crash.tsv") == data
    assert queue_counts(hub, "DacsTransferQueue") == ("0", "0")


def test_a_move_whose_claim_outlived_its_failed_invocation_is_made_when_its_notification_comes_back(hub: LocalHub) -> None:
    # Given a file under extract/, whose move fails (S3 refuses the copy) in an invocation that answers, but whose
    # idempotency claim could not be deleted after (DynamoDB throttled): the claim holds until that invocation's deadline
    data = extract_bytes(Kind.CONTACT, contacts(2))
    with AwsThrottling(1.0, operations=frozenset({"s3.CopyObject", "dynamodb.DeleteItem"})) as throttling:
        put_extract(hub, "contacts-claimed.tsv", data)
        assert hub.drain() >= 1
    assert {operation for _, operation in throttling.throttled} == {"s3.CopyObject", "dynamodb.DeleteItem"}
    assert keys(hub, "extract/") == ["extract/contacts-claimed.tsv"]
    assert len(in_progress_claims(hub, hub.function(FUNCTION).name)) == 1

    # When the notification comes back after its visibility timeout (at least the function's timeout: past the claim's
    # deadline)
    assert hub.expire_visibility() == 1
    hub.drain()

    # Then the move is made, not refused as "in progress" by the claim of an invocation that ended long before
    assert keys(hub, "extract/") == []
    assert keys(hub, "upload/") == ["upload/contacts-claimed.tsv"]
    assert body(hub, "upload/contacts-claimed.tsv") == data
    assert in_progress_claims(hub, hub.function(FUNCTION).name) == []
    assert queue_counts(hub, "DacsTransferQueue") == ("0", "0")
