"""localhub.lambda_.claims: when the local runtime lets time pass, the claims of ended invocations lapse, never one an
invocation running at that moment may hold, even one started while the claims are being read (moto in process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localhub.lambda_.claims import InvocationKey, Invocations, lapse_claims

REGION = "eu-west-1"
TABLE = "claims"
DEADLINE = 1_900_000_000_000


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def claim(dynamodb: Any, record_id: str, expiration: int) -> None:
    """What Powertools Idempotency writes when an invocation claims a key: INPROGRESS until its deadline."""
    item = {"id": {"S": record_id}, "status": {"S": "INPROGRESS"}, "in_progress_expiration": {"N": str(expiration)}}
    dynamodb.put_item(TableName=TABLE, Item=item)


def expirations(dynamodb: Any) -> dict[str, int]:
    return {item["id"]["S"]: int(item["in_progress_expiration"]["N"]) for item in dynamodb.scan(TableName=TABLE)["Items"]}


def test_a_claim_of_an_invocation_started_while_the_claims_are_read_is_never_lapsed(dynamodb: Any) -> None:
    # Given an invocation of fn-A that ended with its claim left INPROGRESS
    invocations = Invocations()
    ended = invocations.started("fn-A", DEADLINE)
    claim(dynamodb, "role:session#fn-A#ended", DEADLINE)
    invocations.ended(ended)

    # and another invocation of fn-A, its deadline 1 s later (as close as the claims' slack), that starts and claims
    # its key once the lapse has begun, as its table is read
    meanwhile: list[InvocationKey] = []

    def starts_meanwhile(**_: Any) -> None:
        if not meanwhile:
            meanwhile.append(invocations.started("fn-A", DEADLINE + 1_000))
            claim(dynamodb, "role:session#fn-A#running", DEADLINE + 1_000)

    dynamodb.meta.events.register("before-call.dynamodb.Scan", starts_meanwhile)

    # When time passes past both deadlines
    lapsed = invocations.lapse_ended(dynamodb, [TABLE], horizon_ms=2**62)
    dynamodb.meta.events.unregister("before-call.dynamodb.Scan", starts_meanwhile)

    # Then neither claim has lapsed: the running one's is as it wrote it, and the ended one's, as close, may as well be
    # the running one's
    assert len(meanwhile) == 1
    assert lapsed == 0
    assert expirations(dynamodb) == {"role:session#fn-A#ended": DEADLINE, "role:session#fn-A#running": DEADLINE + 1_000}

    # And once that invocation has ended too, time passing lapses both
    invocations.ended(meanwhile[0])
    assert invocations.lapse_ended(dynamodb, [TABLE], horizon_ms=2**62) == 2
    assert all(expiration < DEADLINE for expiration in expirations(dynamodb).values())


def test_an_ended_invocation_kept_for_one_started_during_the_lapse_lapses_later_even_once_that_one_has_ended(dynamodb: Any) -> None:
    # Given an invocation of fn-A that ended with its claim left INPROGRESS, and a second idempotency table
    other_table = f"{TABLE}-other"
    dynamodb.create_table(
        TableName=other_table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    invocations = Invocations()
    ended = invocations.started("fn-A", DEADLINE)
    claim(dynamodb, "role:session#fn-A#ended", DEADLINE)
    invocations.ended(ended)

    # and another invocation of fn-A, as close a deadline, that starts and claims its key as the first table is read,
    # then ends (its claim left too) as the second is: before the lapse is over, so none is running when it ends
    meanwhile: list[InvocationKey] = []

    def starts_then_ends(**_: Any) -> None:
        if not meanwhile:
            meanwhile.append(invocations.started("fn-A", DEADLINE + 1_000))
            claim(dynamodb, "role:session#fn-A#meanwhile", DEADLINE + 1_000)
        elif len(meanwhile) == 1:
            invocations.ended(meanwhile[0])
            meanwhile.append(meanwhile[0])

    dynamodb.meta.events.register("before-call.dynamodb.Scan", starts_then_ends)

    # When time passes past both deadlines
    lapsed = invocations.lapse_ended(dynamodb, [TABLE, other_table], horizon_ms=2**62)
    dynamodb.meta.events.unregister("before-call.dynamodb.Scan", starts_then_ends)

    # Then the first invocation's claim is kept (as close as a running one's when it was read), none lapsed
    assert len(meanwhile) == 2
    assert lapsed == 0
    assert expirations(dynamodb) == {"role:session#fn-A#ended": DEADLINE, "role:session#fn-A#meanwhile": DEADLINE + 1_000}

    # And the first invocation is due to lapse again (put back because its claim was kept, though none runs now), with
    # the one that ended since; time passing again lapses both claims, and keeps none
    due, running = invocations.take_ended(horizon_ms=2**62)
    assert (sorted(due, key=lambda e: e.deadline_ms), running) == ([ended, meanwhile[0]], [])
    assert lapse_claims(dynamodb, [TABLE, other_table], due, running=invocations.running) == (2, [])
    assert all(expiration < DEADLINE for expiration in expirations(dynamodb).values())
