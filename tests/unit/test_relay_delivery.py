"""The relay's rules (utilhub.platform.relay) against SQS and DynamoDB in process (moto, real boto3): what is queued and
journaled when an event is accepted, and what a batch of queued events becomes: delivered once, tried again, moved to
the dead-letter queue at once when the target refuses it, ``DEAD_LETTERED`` on the queue's last try, and in a FIFO
group, the events held behind a failed one. The queue's own redelivery is played by :func:`poll`: it hands what the
relay failed over again, as SQS does once its visibility timeout has passed. The relay functions over the API and the
simulators are in tests/integration/test_meter_data_billing_relays.py and test_field_work_notifications.py."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localhub.lambda_.runtime import LambdaContext
from utilhub.platform.connectors import TargetRejected
from utilhub.platform.relay import RelayMessage, RetryLater, accept, accept_many, deliver_batch, retry_later_seconds

REGION = "eu-west-1"
TRIES = 3  # the test queues' maxReceiveCount


@dataclass
class Queue:
    url: str
    arn: str
    dead_letters: str


@dataclass
class Hub:
    """The relay's AWS in process: a standard and a FIFO queue, each with its dead-letter queue, the journal and the
    idempotency records; and what the relay asked SQS to hide for how long (``ChangeMessageVisibility``)."""

    sqs: Any
    journal: Any
    idempotency: Any
    standard: Queue
    fifo: Queue
    hidden: list[dict[str, Any]] = field(default_factory=list)

    def head(self, relay: str, event: str) -> dict[str, Any] | None:
        item = self.journal.get_item(Key={"pk": f"{relay}#{event}", "sk": "head"}).get("Item")
        return dict(item) if item else None

    def hops(self, relay: str, event: str) -> list[tuple[str, str, str, str]]:
        items = self.journal.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :hop)",
            ExpressionAttributeValues={":pk": f"{relay}#{event}", ":hop": "hop#"},
        )["Items"]
        return [(str(i["step"]), str(i["system"]), str(i["outcome"]), str(i["detail"])) for i in items]

    def waiting(self, queue: str) -> list[dict[str, Any]]:
        """Every message in ``queue`` (left in flight: read once)."""
        found: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", []):
            found += batch
        return found


def _queue(sqs: Any, name: str, fifo: bool) -> Queue:
    suffix = ".fifo" if fifo else ""
    extra = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=extra)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": TRIES})
    url = sqs.create_queue(QueueName=f"{name}{suffix}", Attributes={**extra, "RedrivePolicy": policy, "VisibilityTimeout": "30"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queue(url, arn, dlq)


@functools.cache
def _clients_made_here() -> None:
    """The process's AWS clients, made once under these tests' variables: made afresh for each test, their models'
    loading would take most of its time (mock_aws intercepts a client's calls whenever it was made)."""
    from utilhub.platform import aws

    aws.reset_clients()


@pytest.fixture(scope="module", autouse=True)
def _clients_forgotten_after_the_module() -> Iterator[None]:
    """The library's clients made here call AWS itself (no endpoint: mock_aws intercepted them): the process's later
    tests (the local runtime's, on its embedded endpoint) must not be handed them."""
    from utilhub.platform import aws

    yield
    aws.reset_clients()
    _clients_made_here.cache_clear()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    from moto import mock_aws

    from utilhub.platform import aws, wiring
    from utilhub.platform.observability import metrics

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UTILHUB_JOURNAL_TABLE", "journal")
    monkeypatch.setenv("UTILHUB_IDEMPOTENCY_TABLE", "idempotency")
    _clients_made_here()
    with mock_aws():
        wiring.reset()
        metrics.clear_metrics()
        for name, keys in (("journal", [("pk", "HASH"), ("sk", "RANGE")]), ("idempotency", [("id", "HASH")])):
            aws.client("dynamodb").create_table(
                TableName=name,
                KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        sqs = wiring.sqs()
        found = Hub(sqs, aws.table("journal"), aws.table("idempotency"), _queue(sqs, "relay", fifo=False), _queue(sqs, "relay", fifo=True))
        hook = functools.partial(_hidden, found.hidden)
        sqs.meta.events.register("provide-client-params.sqs.ChangeMessageVisibility", hook)
        yield found
        sqs.meta.events.unregister("provide-client-params.sqs.ChangeMessageVisibility", hook)
        metrics.clear_metrics()
    monkeypatch.undo()
    wiring.reset()


def _hidden(calls: list[dict[str, Any]], params: dict[str, Any], **_: Any) -> None:
    calls.append(dict(params))


def _record(message: Mapping[str, Any], queue: Queue) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": REGION,
    }


@dataclass
class Polled:
    handed: list[dict[str, Any]]  # the records of the batch
    failed: list[str]  # the ids of those the relay handed back
    error: Exception | None = None  # what the relay raised (every record failed)
    hidden: list[dict[str, Any]] = field(default_factory=list)  # what the relay asked SQS to hide, for how long


def poll(hub: Hub, queue: Queue, deliverers: Mapping[str, Callable[[RelayMessage], Mapping[str, Any]]], context: Any = None) -> Polled:
    """One batch of ``queue`` given to the relay, as Lambda's event source does: what it delivered is deleted, what it
    handed back is visible again at once (as if its visibility timeout had passed)."""
    from utilhub.platform import batches

    messages = hub.sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    records = [_record(m, queue) for m in messages]
    hub.hidden.clear()
    error: Exception | None = None
    try:
        answer = deliver_batch({"Records": records}, context or LambdaContext("relay", 128, 60), deliverers)
        failed = [str(f["itemIdentifier"]) for f in answer["batchItemFailures"]]
    except batches.BatchProcessingError as exc:
        failed, error = [r["messageId"] for r in records], exc
    hidden = list(hub.hidden)
    for message in messages:
        if message["MessageId"] not in failed:
            hub.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
            continue
        with contextlib.suppress(ClientError):  # a record the deliverer saw deleted meanwhile
            hub.sqs.change_message_visibility(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return Polled(records, failed, error, hidden)


@dataclass
class Target:
    """A deliverer: what it was given, in order; ``fail`` decides, per event id, what it raises (nothing: delivered)."""

    fail: Callable[[RelayMessage], Exception | None] = lambda _: None
    given: list[RelayMessage] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)  # what the deliverer saw of the invocation

    def __call__(self, message: RelayMessage) -> Mapping[str, Any]:
        from utilhub.platform import journal
        from utilhub.platform.observability import correlation_id

        self.given.append(message)
        self.seen.append({"correlationId": correlation_id(), "transaction": journal.current()})
        journal.record_call("CCB", "PUT", f"/notices/{message.eventId}?x=1", "200")
        failure = self.fail(message)
        if failure is not None:
            raise failure
        return {"noticeId": f"N-{message.eventId}"}


def given_ids(target: Target) -> list[str]:
    return [m.eventId for m in target.given]


def metric(name: str) -> list[float]:
    """The values the invocation adds up under ``name``, each a count."""
    from utilhub.platform.observability import metrics

    added = metrics.metric_set.get(name, {"Unit": "Count"})
    assert added["Unit"] == "Count"
    return list(added.get("Value", []))


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    """The records logged with ``message``: their level and extra keys."""
    return [
        {"level": r.levelname}
        | {k: v for k, v in vars(r).items() if k in ("relay", "queue", "eventId", "status", "error", "seconds", "receives", "reason")}
        for r in caplog.records
        if r.getMessage() == message
    ]


# ---------------------------------------------------------------------------------------------------- accepting


def test_an_accepted_event_is_queued_with_its_relay_id_payload_and_the_callers_correlation_id(hub: Hub) -> None:
    from utilhub.platform.observability import use_correlation_id

    # Given a caller's correlation id
    use_correlation_id("corr-1")

    # When an MD-16 event with a compound id is accepted
    accept("MD-16", "UT-1#E-1", {"usedOnBill": True}, hub.standard.url)

    # Then it is queued as the relay's message, counted, and journaled QUEUED under the id the operations API uses
    (queued,) = hub.waiting(hub.standard.url)
    assert json.loads(queued["Body"]) == {
        "relay": "MD-16",
        "eventId": "UT-1#E-1",
        "payload": {"usedOnBill": True},
        "correlationId": "corr-1",
    }
    assert metric("RelayAccepted") == [1.0]
    head = hub.head("MD-16", "UT-1/E-1")
    assert head is not None
    assert (head["detailState"], head["state"]) == ("QUEUED", "RECEIVED")
    assert hub.hops("MD-16", "UT-1/E-1") == [("accepted", "hub", "QUEUED", "")]


def test_an_event_of_a_relay_not_named_by_its_point_is_queued_but_not_journaled(hub: Hub) -> None:
    # When the engine's outcome relay accepts an event, alone and in a batch
    accept("SYNC-OUTCOME", "SR-1#1", {"result": "POSITIVE"}, hub.standard.url)
    accept_many("SYNC-OUTCOME", [("SR-2#1", {"result": "NEGATIVE"})], hub.standard.url)

    # Then both are queued and counted, and the journal has nothing of them
    assert len(hub.waiting(hub.standard.url)) == 2
    assert metric("RelayAccepted") == [1.0, 1.0]
    assert hub.journal.scan()["Items"] == []


def test_events_accepted_with_a_group_are_queued_in_that_group_the_same_event_once(hub: Hub) -> None:
    # When events of one entity are accepted in its group: one of them twice, one id again with other values, the same
    # values under another id and under another relay
    for relay, event, payload in (
        ("MD-16", "E-1", {"at": 1}),
        ("MD-16", "E-2", {"at": 2}),
        ("MD-16", "E-1", {"at": 1}),
        ("MD-16", "E-1", {"at": 3}),
        ("MD-16", "E-3", {"at": 1}),
        ("MD-20", "E-1", {"at": 1}),
    ):
        accept(relay, event, payload, hub.fifo.url, group="SA-1")

    # Then each is queued in the group, in the order accepted, the exact repeat once
    queued = hub.waiting(hub.fifo.url)
    assert [(json.loads(m["Body"])["relay"], json.loads(m["Body"])["eventId"], json.loads(m["Body"])["payload"]) for m in queued] == [
        ("MD-16", "E-1", {"at": 1}),
        ("MD-16", "E-2", {"at": 2}),
        ("MD-16", "E-1", {"at": 3}),
        ("MD-16", "E-3", {"at": 1}),
        ("MD-20", "E-1", {"at": 1}),
    ]
    assert {m["Attributes"]["MessageGroupId"] for m in queued} == {"SA-1"}
    # And SQS tells a repeat by the event itself (relay, id and values), whatever correlation id it came with
    first = RelayMessage(relay="MD-16", eventId="E-1", payload={"at": 1})
    same = hashlib.sha256(first.model_dump_json(include={"relay", "eventId", "payload"}).encode()).hexdigest()
    assert queued[0]["Attributes"]["MessageDeduplicationId"] == same


def test_events_accepted_together_are_all_queued_counted_and_journaled(hub: Hub) -> None:
    from utilhub.platform.observability import use_correlation_id

    # Given a caller's correlation id
    use_correlation_id("corr-2")

    # When eleven FW-11 events (two SendMessageBatch calls) are accepted at once
    accept_many("FW-11", [(f"A-{n}#1", {"n": n}) for n in range(11)], hub.standard.url)

    # Then each is queued as the relay's message with the caller's correlation id, counted once for all
    queued = sorted((json.loads(m["Body"]) for m in hub.waiting(hub.standard.url)), key=lambda body: body["payload"]["n"])
    assert queued == [{"relay": "FW-11", "eventId": f"A-{n}#1", "payload": {"n": n}, "correlationId": "corr-2"} for n in range(11)]
    assert metric("RelayAccepted") == [11.0]
    # And each is journaled QUEUED under its own id
    for n in range(11):
        assert hub.hops("FW-11", f"A-{n}/1") == [("accepted", "hub", "QUEUED", "")]


# ---------------------------------------------------------------------------------------------------- delivering


def test_a_queued_event_is_delivered_under_its_correlation_id_and_journaled_delivered(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    from utilhub.platform.journal import Transaction
    from utilhub.platform.observability import use_correlation_id

    # Given an MD-16 event accepted under a correlation id
    use_correlation_id("corr-3")
    accept("MD-16", "UT-1#E-1", {"usedOnBill": True}, hub.standard.url)
    use_correlation_id("other")
    caplog.set_level(logging.INFO, logger="utilhub")

    # When the relay is given the batch
    target = Target()
    polled = poll(hub, hub.standard, {"MD-16": target, "MD-13": Target()})

    # Then the target was given the event once, under its correlation id, its calls hops of the event's transaction
    assert polled.failed == []
    assert [(m.relay, m.eventId, m.payload) for m in target.given] == [("MD-16", "UT-1#E-1", {"usedOnBill": True})]
    assert target.seen == [{"correlationId": "corr-3", "transaction": Transaction("MD-16", "UT-1/E-1")}]
    # And the event is journaled delivered, after the call to the target
    head = hub.head("MD-16", "UT-1/E-1")
    assert head is not None
    assert (head["detailState"], head["state"]) == ("DELIVERED", "COMPLETED")
    assert hub.hops("MD-16", "UT-1/E-1") == [
        ("accepted", "hub", "QUEUED", ""),
        ("call PUT /notices/UT-1#E-1", "CCB", "200", ""),
        ("delivered", "hub", "DELIVERED", ""),
    ]
    assert logged(caplog, "relayed") == [{"level": "INFO", "relay": "MD-16", "eventId": "UT-1#E-1"}]
    # And the queue has nothing left
    assert hub.waiting(hub.standard.url) == []


def test_an_event_of_a_relay_not_named_by_its_point_is_delivered_outside_any_transaction(hub: Hub) -> None:
    # Given an outcome relay's event
    accept("SYNC-OUTCOME", "SR-1#1", {"result": "POSITIVE"}, hub.standard.url)

    # When it is delivered
    target = Target()
    polled = poll(hub, hub.standard, {"SYNC-OUTCOME": target})

    # Then the target has it, and no call or state of it is in the journal
    assert (polled.failed, given_ids(target)) == ([], ["SR-1#1"])
    assert target.seen[0]["transaction"] is None
    assert hub.journal.scan()["Items"] == []


def test_an_event_queued_twice_reaches_its_target_once(hub: Hub) -> None:
    # Given the same event queued twice on a standard queue (a caller's retry), and another
    accept("FW-05", "A-1", {"status": "DONE"}, hub.standard.url)
    accept("FW-05", "A-1", {"status": "DONE"}, hub.standard.url)
    accept("FW-05", "A-2", {"status": "DONE"}, hub.standard.url)

    # When the relay delivers them
    target = Target()
    polled = poll(hub, hub.standard, {"FW-05": target})

    # Then each event reached the target once, and both copies are done with
    assert polled.failed == []
    assert sorted(given_ids(target)) == ["A-1", "A-2"]


def test_an_event_id_queued_again_with_other_values_is_not_delivered_and_kept_for_an_operator(hub: Hub) -> None:
    # Given an event delivered, then its id queued again with other values
    accept("FW-05", "A-1", {"status": "DONE"}, hub.standard.url)
    target = Target()
    poll(hub, hub.standard, {"FW-05": target})
    accept("FW-05", "A-1", {"status": "CANCELED"}, hub.standard.url)

    # When the relay is given it
    polled = poll(hub, hub.standard, {"FW-05": target})

    # Then the target is not given it, and it is handed back as a failed try (on to the DLQ), never dropped
    assert given_ids(target) == ["A-1"]
    assert len(polled.failed) == 1
    assert hub.hops("FW-05", "A-1")[-1] == (
        "delivery",
        "hub",
        "RETRY",
        "Problem: 409 Conflict: This idempotency key was already used with a different request.",
    )


def test_an_events_delivery_record_is_keyed_by_its_relay_and_id_and_fingerprinted_by_its_values(hub: Hub) -> None:
    # Given an FW-05 event
    accept("FW-05", "A-1", {"status": "DONE"}, hub.standard.url)

    # When it is delivered
    poll(hub, hub.standard, {"FW-05": Target()})

    # Then its record of delivery is keyed by the relay and the event id and checked against the relay and the values:
    # the same for every version of the relay, so an event redelivered across a deployment is still known
    (record,) = hub.idempotency.scan()["Items"]
    key = hashlib.sha256(json.dumps("relay#FW-05#A-1").encode()).hexdigest()
    fingerprint = hashlib.sha256(json.dumps('{"relay":"FW-05","payload":{"status":"DONE"}}').encode()).hexdigest()
    assert (str(record["id"]).rpartition("#")[2], record["validation"], record["status"]) == (key, fingerprint, "COMPLETED")


def test_an_event_whose_delivery_is_cut_off_frees_its_key_by_the_invocations_deadline(hub: Hub) -> None:
    # Given an event, and an invocation with two minutes left
    accept("FW-05", "A-1", {"status": "DONE"}, hub.standard.url)
    claims: list[dict[str, Any]] = []

    def claimed(message: RelayMessage) -> None:
        claims.extend(hub.idempotency.scan()["Items"])

    # When the relay delivers it
    poll(hub, hub.standard, {"FW-05": Target(fail=claimed)}, LambdaContext("relay", 128, 120))

    # Then while the target had it, the event's key was claimed until the invocation's end at the latest
    assert [("in_progress_expiration" in claim, claim["status"]) for claim in claims] == [(True, "INPROGRESS")]


# ---------------------------------------------------------------------------------------------------- failing


def test_a_failed_try_is_handed_back_and_journaled_dead_lettered_only_on_the_queues_last(hub: Hub) -> None:
    # Given an event whose target stays down
    accept("MD-13", "R-1", {"read": 1}, hub.standard.url)
    target = Target(fail=lambda _: ConnectionRefusedError("10.0.0.7 refused"))

    # When the relay tries it as many times as the queue hands it over
    tries = [poll(hub, hub.standard, {"MD-13": target}) for _ in range(TRIES)]

    # Then each try is handed back, a hop naming the failure's kind only (never what it quoted)
    assert [len(t.failed) for t in tries] == [1] * TRIES
    assert hub.hops("MD-13", "R-1")[1:3] == [
        ("call PUT /notices/R-1", "CCB", "200", ""),
        ("delivery", "hub", "RETRY", "ConnectionRefusedError"),
    ]
    # And only the last try marks it DEAD_LETTERED, with how many tries and why, and the queue moves it to its DLQ
    assert [h[2] for h in hub.hops("MD-13", "R-1")] == ["QUEUED"] + ["200", "RETRY"] * TRIES + ["DEAD_LETTERED"]
    head = hub.head("MD-13", "R-1")
    assert head is not None
    assert (head["detailState"], head["state"]) == ("DEAD_LETTERED", "FAILED")
    assert head["reason"] == "not delivered after 3 tries (ConnectionRefusedError); in the dead-letter queue"
    assert hub.hops("MD-13", "R-1")[-1][0] == "dead-lettered"
    assert poll(hub, hub.standard, {"MD-13": target}).handed == []
    assert [json.loads(m["Body"])["eventId"] for m in hub.waiting(hub.standard.dead_letters)] == ["R-1"]


def test_a_failure_in_the_hubs_own_words_is_journaled_as_said_and_cut_short(hub: Hub) -> None:
    # Given events whose target answers a 409 with a long reason, and whose deliverer misses a field
    accept("MD-20", "B-1", {}, hub.standard.url)
    accept("MD-20", "B-2", {}, hub.standard.url)
    failures = {"B-1": TargetRejected(409, "duplicate " + "x" * 600), "B-2": KeyError("meterId")}
    target = Target(fail=lambda message: failures[message.eventId])

    # When the relay tries them until the queue's last try
    for _ in range(TRIES):
        poll(hub, hub.standard, {"MD-20": target})

    # Then a 409 is a failed try like any other, not a refusal: retried, not moved to the DLQ at once
    assert given_ids(target).count("B-1") == TRIES
    # And each try's hop has the failure as the hub says it, named by its kind once, cut to 500 characters
    refused = hub.hops("MD-20", "B-1")[2][3]
    assert refused == ("TargetRejected: 409: duplicate " + "x" * 600)[:500]
    assert hub.hops("MD-20", "B-2")[2][3] == "KeyError (no meterId)"
    # And the DEAD_LETTERED reason quotes at most 400 characters of it
    head = hub.head("MD-20", "B-1")
    assert head is not None
    assert head["reason"] == f"not delivered after 3 tries ({('409: duplicate ' + 'x' * 600)[:400]}); in the dead-letter queue"
    assert metric("RelayRefused") == []


def test_an_event_of_a_relay_with_no_deliverer_is_handed_back_never_dropped(hub: Hub) -> None:
    # Given an event of a relay the function does not deliver
    accept("MD-16", "E-1", {}, hub.standard.url)

    # When the relay is given it
    target = Target()
    polled = poll(hub, hub.standard, {"MD-13": target})

    # Then it is handed back (on to the DLQ for an operator), no other deliverer given it, the failure naming the relay
    assert (len(polled.failed), target.given) == (1, [])
    assert "LookupError: no deliverer for relay MD-16" in str(polled.error)


def test_without_the_queues_redrive_policy_a_last_try_leaves_the_event_received(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    # Given a queue with no redrive policy, and an event on it that fails
    url = hub.sqs.create_queue(QueueName="no-policy")["QueueUrl"]
    arn = hub.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    accept("MD-13", "R-1", {}, url)

    # When the relay tries it
    polled = poll(hub, Queue(url, arn, ""), {"MD-13": Target(fail=lambda _: ConnectionRefusedError())})

    # Then it is handed back, journaled QUEUED still, and the unread policy logged
    assert len(polled.failed) == 1
    head = hub.head("MD-13", "R-1")
    assert head is not None
    assert head["detailState"] == "QUEUED"
    assert logged(caplog, "redrive policy not read") == [{"level": "WARNING", "queue": arn, "error": "KeyError"}]


# ---------------------------------------------------------------------------------------------------- retry later


def test_an_event_to_retry_later_is_hidden_for_its_backoff_not_the_queues_whole_timeout(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    # Given an event whose entity stays held by another delivery
    accept("FW-10", "SP-1#U-1", {}, hub.standard.url)
    target = Target(fail=lambda _: RetryLater("service point SP-1 held by U-0"))
    caplog.set_level(logging.INFO, logger="utilhub")

    # When the relay is given it, once per receive
    tries = [poll(hub, hub.standard, {"FW-10": target}) for _ in range(TRIES)]

    # Then each receive handed it back, asking SQS to hide that record for the backoff of its receive count
    assert [t.failed for t in tries] == [[t.handed[0]["messageId"]] for t in tries]
    assert [t.hidden for t in tries] == [
        [{"QueueUrl": hub.standard.url, "ReceiptHandle": t.handed[0]["receiptHandle"], "VisibilityTimeout": retry_later_seconds(n)}]
        for n, t in enumerate(tries, start=1)
    ]
    assert [r["seconds"] for r in logged(caplog, "retried later")] == [retry_later_seconds(n) for n in range(1, TRIES + 1)]
    assert logged(caplog, "retried later")[0] == {"level": "INFO", "seconds": 10, "receives": 1, "reason": "service point SP-1 held by U-0"}
    # And each try is a hop saying so, the last one DEAD_LETTERED with the reason
    assert [h[1:] for h in hub.hops("FW-10", "SP-1/U-1") if h[0] == "delivery"] == [
        ("hub", "RETRY_LATER", "service point SP-1 held by U-0")
    ] * TRIES
    head = hub.head("FW-10", "SP-1/U-1")
    assert head is not None
    assert head["reason"] == f"not delivered after {TRIES} tries (service point SP-1 held by U-0); in the dead-letter queue"


def test_an_event_to_retry_later_waits_the_queues_timeout_when_sqs_refuses_its_backoff(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    # Given an event to retry later whose receipt SQS no longer takes (it was deleted meanwhile)
    accept("FW-10", "SP-1#U-1", {}, hub.standard.url)

    def gone(message: RelayMessage) -> Exception:
        for waiting in hub.waiting(hub.standard.url):
            hub.sqs.delete_message(QueueUrl=hub.standard.url, ReceiptHandle=waiting["ReceiptHandle"])
        return RetryLater("held")

    caplog.set_level(logging.INFO, logger="utilhub")

    # When the relay is given it
    hub.sqs.set_queue_attributes(QueueUrl=hub.standard.url, Attributes={"VisibilityTimeout": "0"})
    polled = poll(hub, hub.standard, {"FW-10": Target(fail=gone)})

    # Then it is handed back all the same, the refused backoff logged and no wait claimed
    assert len(polled.failed) == 1
    (refused,) = logged(caplog, "could not shorten the wait of a record to retry later")
    assert refused["level"] == "WARNING"
    assert "ReceiptHandleIsInvalid" in refused["reason"]
    assert logged(caplog, "retried later") == []


# ---------------------------------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("status", "reason", "kept"), [(422, "field 'at' missing", "field 'at' missing"), (400, "", "refused"), (404, "x" * 600, "x" * 500)]
)
def test_an_event_its_target_refuses_is_moved_to_the_dead_letter_queue_at_once_with_the_targets_reason(
    hub: Hub, caplog: pytest.LogCaptureFixture, status: int, reason: str, kept: str
) -> None:
    # Given an MD-13 event its target refuses
    accept("MD-13", "R-1", {"read": 1}, hub.standard.url)
    target = Target(fail=lambda _: TargetRejected(status, reason))

    # When the relay is given it
    polled = poll(hub, hub.standard, {"MD-13": target})

    # Then the record is done with, tried once, and the event waits in the DLQ as it was queued, with the target's answer
    assert polled.failed == []
    (dead,) = hub.waiting(hub.standard.dead_letters)
    assert dead["Body"] == polled.handed[0]["body"]
    assert {name: (value["DataType"], value["StringValue"]) for name, value in dead["MessageAttributes"].items()} == {
        "refusedStatus": ("Number", str(status)),
        "refusedReason": ("String", kept),
    }
    assert hub.waiting(hub.standard.url) == []
    # And it is counted (alarmed), logged, and journaled REFUSED with the target's reason
    assert metric("RelayRefused") == [1.0]
    assert logged(caplog, "relayed event refused by its target, kept in the dead-letter queue") == [
        {"level": "ERROR", "relay": "MD-13", "eventId": "R-1", "status": status}
    ]
    head = hub.head("MD-13", "R-1")
    assert head is not None
    assert (head["detailState"], head["state"]) == ("REFUSED", "FAILED")
    assert head["reason"] == f"{TargetRejected(status, reason)}; kept in the dead-letter queue"
    assert hub.hops("MD-13", "R-1")[-1] == ("refused", "hub", "REFUSED", head["reason"])
    assert given_ids(target) == ["R-1"]


def test_a_refused_event_the_dead_letter_queue_does_not_take_fails_its_try_and_is_journaled_as_failed_tries_are(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an MD-13 event its target refuses, and SQS failing the move to the queue's dead-letter queue (the queue
    # gone: the send answers QueueDoesNotExist, as a denied or throttled one fails)
    accept("MD-13", "R-1", {"read": 1}, hub.standard.url)
    target = Target(fail=lambda _: TargetRejected(422, "field 'at' missing"))
    hub.sqs.delete_queue(QueueUrl=hub.standard.dead_letters)

    # When the relay is given it as many times as the queue hands it over
    tries = [poll(hub, hub.standard, {"MD-13": target}) for _ in range(TRIES)]

    # Then each try failed as any other does: the record is handed back (still in its queue, not lost), the target
    # tried again each time, and each try is a RETRY hop with the target's answer; not REFUSED (which would say it
    # waits in the dead-letter queue), not counted as refused, and the move's failure logged
    assert [t.failed for t in tries] == [[t.handed[0]["messageId"]] for t in tries]
    assert given_ids(target) == ["R-1"] * TRIES
    assert hub.hops("MD-13", "R-1")[1:3] == [
        ("call PUT /notices/R-1", "CCB", "200", ""),
        ("delivery", "hub", "RETRY", "TargetRejected: 422: field 'at' missing"),
    ]
    assert [h[2] for h in hub.hops("MD-13", "R-1")] == ["QUEUED"] + ["200", "RETRY"] * TRIES + ["DEAD_LETTERED"]
    assert metric("RelayRefused") == []
    assert (
        logged(caplog, "relayed event refused by its target, not moved to the dead-letter queue")
        == [{"level": "WARNING", "relay": "MD-13", "eventId": "R-1", "status": 422, "error": "QueueDoesNotExist"}] * TRIES
    )
    # And the queue's last receive is journaled DEAD_LETTERED with the target's answer (SQS moves it there itself)
    head = hub.head("MD-13", "R-1")
    assert head is not None
    assert (head["detailState"], head["state"]) == ("DEAD_LETTERED", "FAILED")
    assert head["reason"] == "not delivered after 3 tries (422: field 'at' missing); in the dead-letter queue"


def test_a_refused_event_of_a_fifo_group_keeps_its_group_in_the_dead_letter_queue(hub: Hub) -> None:
    # Given two MD-16 events of one group, the first refused by the target, and an outcome relay's event refused
    accept("MD-16", "UT-1#E-1", {"at": 1}, hub.fifo.url, group="UT-1")
    accept("MD-16", "UT-1#E-2", {"at": 2}, hub.fifo.url, group="UT-1")
    accept("SYNC-OUTCOME", "SR-1#1", {}, hub.fifo.url, group="meter-data#SR-1")
    target = Target(fail=lambda message: TargetRejected(422, "refused") if message.eventId in ("UT-1#E-1", "SR-1#1") else None)

    # When the relay is given them
    polled = poll(hub, hub.fifo, {"MD-16": target, "SYNC-OUTCOME": target})

    # Then the group's later event is delivered meanwhile, and each refused one waits in the DLQ in its own group,
    # deduplicated by its record (a redrive delivers it after them)
    assert polled.failed == []
    assert given_ids(target) == ["UT-1#E-1", "UT-1#E-2", "SR-1#1"]
    waiting = hub.waiting(hub.fifo.dead_letters)
    by_id = {json.loads(m["Body"])["eventId"]: m["Attributes"] for m in waiting}
    dead_letters = {json.loads(m["Body"])["eventId"]: m["MessageAttributes"] for m in waiting}
    assert sorted(by_id) == ["SR-1#1", "UT-1#E-1"]
    records = {json.loads(r["body"])["eventId"]: r["messageId"] for r in polled.handed}
    assert (by_id["UT-1#E-1"]["MessageGroupId"], by_id["UT-1#E-1"]["MessageDeduplicationId"]) == ("UT-1", records["UT-1#E-1"])
    assert {name: value["StringValue"] for name, value in dead_letters["UT-1#E-1"].items()} == {
        "refusedStatus": "422",
        "refusedReason": "refused",
    }
    assert by_id["SR-1#1"]["MessageGroupId"] == "meter-data#SR-1"
    # And only the journaled relay's refusal is journaled
    assert hub.head("SYNC-OUTCOME", "SR-1#1") is None
    assert metric("RelayRefused") == [1.0, 1.0]


def test_a_refused_event_of_a_record_without_a_group_is_kept_in_a_group_of_its_own_id(hub: Hub) -> None:
    from utilhub.platform.relay import _dead_letter

    # Given a refused event handed over by a FIFO queue without its group (a record as an operator replays it)
    accept("MD-16", "UT-1#E-1", {"at": 1}, hub.fifo.url, group="UT-1")
    (message,) = hub.waiting(hub.fifo.url)
    record = _record(message, hub.fifo)
    record["attributes"].pop("MessageGroupId")
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    # When it is moved to the DLQ
    answer = _dead_letter(SQSRecord(record), RelayMessage.model_validate_json(message["Body"]), TargetRejected(422, "no"))

    # Then it waits there in the group of its event id
    assert answer == {"refused": 422, "deadLettered": True}
    (dead,) = hub.waiting(hub.fifo.dead_letters)
    assert dead["Attributes"]["MessageGroupId"] == "UT-1#E-1"


# ---------------------------------------------------------------------------------------------------- FIFO order


def test_an_event_after_a_failed_one_of_its_group_is_held_back_and_dead_lettered_with_it_naming_it(hub: Hub) -> None:
    # Given a group whose first event the target cannot take, two later events of it, another group's event, and an
    # outcome relay's events behind a failed one of their own group
    for relay, event, group in (
        ("MD-16", "UT-1#E-1", "UT-1"),
        ("MD-16", "UT-1#E-2", "UT-1"),
        ("MD-16", "UT-1#E-3", "UT-1"),
        ("MD-16", "UT-2#E-1", "UT-2"),
        ("SYNC-OUTCOME", "SR-1#1", "SR-1"),
        ("SYNC-OUTCOME", "SR-1#2", "SR-1"),
    ):
        accept(relay, event, {}, hub.fifo.url, group=group)
    down = {"UT-1#E-1", "SR-1#1"}
    target = Target(fail=lambda message: ConnectionRefusedError() if message.eventId in down else None)

    # When the relay is given the batch as many times as the queue hands it over
    tries = [poll(hub, hub.fifo, {"MD-16": target, "SYNC-OUTCOME": target}) for _ in range(TRIES)]

    # Then the later events of a failed one's group are never given to the target, ahead of it; the other group's is
    assert given_ids(target) == ["UT-1#E-1", "UT-2#E-1", "SR-1#1"] + ["UT-1#E-1", "SR-1#1"] * (TRIES - 1)
    assert [len(t.failed) for t in tries] == [5] * TRIES
    # And on the last try the failed event is DEAD_LETTERED, and those held behind it too, naming it
    reasons = {event: (hub.head("MD-16", event) or {}).get("reason") for event in ("UT-1/E-1", "UT-1/E-2", "UT-1/E-3")}
    assert reasons == {
        "UT-1/E-1": "not delivered after 3 tries (ConnectionRefusedError); in the dead-letter queue",
        "UT-1/E-2": "not delivered after 3 tries (held behind UT-1/E-1 of its group); in the dead-letter queue",
        "UT-1/E-3": "not delivered after 3 tries (held behind UT-1/E-1 of its group); in the dead-letter queue",
    }
    assert [h[2] for h in hub.hops("MD-16", "UT-1/E-2")] == ["QUEUED", "DEAD_LETTERED"]
    assert (hub.head("MD-16", "UT-2/E-1") or {}).get("detailState") == "DELIVERED"
    # And the outcome relay's events, journaled nowhere, are handed back the same
    assert hub.head("SYNC-OUTCOME", "SR-1#2") is None


def test_when_every_record_of_a_batch_fails_those_held_back_are_dead_lettered_on_the_last_try_all_the_same(hub: Hub) -> None:
    # Given one group whose first event the target cannot take and a later one, and a record that is not an event
    accept("MD-20", "B-1", {}, hub.fifo.url, group="SA-1")
    accept("MD-20", "B-2", {}, hub.fifo.url, group="SA-1")
    target = Target(fail=lambda _: ConnectionRefusedError())

    # When the relay is given the batch as many times as the queue hands it over
    tries = [poll(hub, hub.fifo, {"MD-20": target}) for _ in range(TRIES)]

    # Then every try fails the whole batch (the relay raises), and the held back event is DEAD_LETTERED all the same
    assert [type(t.error).__name__ for t in tries] == ["BatchProcessingError"] * TRIES
    assert (hub.head("MD-20", "B-2") or {}).get(
        "reason"
    ) == "not delivered after 3 tries (held behind B-1 of its group); in the dead-letter queue"
    assert given_ids(target) == ["B-1"] * TRIES


def test_a_held_back_record_that_is_no_relayed_event_is_left_to_its_failure(hub: Hub) -> None:
    # Given a group whose first record is not a relayed event (its failure says so), and an event behind it
    hub.sqs.send_message(QueueUrl=hub.fifo.url, MessageBody="not an event", MessageGroupId="SA-1", MessageDeduplicationId="x")
    hub.sqs.send_message(QueueUrl=hub.fifo.url, MessageBody="{}", MessageGroupId="SA-1", MessageDeduplicationId="y")
    accept("MD-20", "B-2", {}, hub.fifo.url, group="SA-1")

    # When the relay is given the batch as many times as the queue hands it over
    tries = [poll(hub, hub.fifo, {"MD-20": Target()}) for _ in range(TRIES)]

    # Then the event is held back behind it, and DEAD_LETTERED behind "an earlier event" on the last try
    assert [len(t.failed) for t in tries] == [3] * TRIES
    assert (hub.head("MD-20", "B-2") or {}).get("reason") == (
        "not delivered after 3 tries (held behind an earlier event of its group); in the dead-letter queue"
    )
