"""The transactions journal (utilhub.platform.journal): each pack's states normalised, the writes it makes (one per
state change and one per hop), that a failed write never fails the caller, the listing's partitions and cursors,
and the operations API's rules on what it forwards (utilhub.operations). No AWS: boto3's own Stubber answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from utilhub.operations.resubmission import api_base_url, resubmit_listed
from utilhub.operations.transactions_api import RESUBMISSION_PATH
from utilhub.platform import journal
from utilhub.platform.journal import Journal, normalised
from utilhub.platform.observability import metrics
from utilhub.platform.problems import Problem
from utilhub.platform.settings import ConfigurationError
from utilhub.platform.text import refuse_in_parameters

AT = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


@pytest.fixture
def table() -> Iterator[tuple[Any, Stubber]]:
    resource = boto3.resource("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    found = resource.Table("journal")
    with Stubber(found.meta.client) as stubber:
        yield found, stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("detail", "state"),
    [
        ("PENDING", "RECEIVED"),
        ("WAITING", "RECEIVED"),
        ("AWAITING_DATA_SYNC", "RECEIVED"),
        ("SENT", "IN_FLIGHT"),
        ("RUNNING", "IN_FLIGHT"),
        ("CREATING", "IN_FLIGHT"),
        ("SYNCHRONIZED", "COMPLETED"),
        ("DISCARDED", "COMPLETED"),
        ("SUCCEEDED", "COMPLETED"),
        ("LINKED", "COMPLETED"),
        ("ERROR", "FAILED"),
        ("FAILED", "FAILED"),
        ("error", "FAILED"),
        # relayed notifications
        ("QUEUED", "RECEIVED"),
        ("DELIVERED", "COMPLETED"),
        ("REFUSED", "FAILED"),
        # customers (CU-01 orders, CU-02 updates)
        ("SYNCHRONIZING", "IN_FLIGHT"),
        ("RETRYING", "IN_FLIGHT"),
        ("APPLIED", "COMPLETED"),
        ("UNCHANGED", "COMPLETED"),
        ("STALE", "COMPLETED"),
        # DACS files (DA-03)
        ("MOVED", "COMPLETED"),
        ("ALREADY_IN_UPLOAD", "COMPLETED"),
        ("ALREADY_TAKEN", "COMPLETED"),
        ("DELETED_UNMOVED", "FAILED"),
        ("NEVER_EXISTED", "FAILED"),
        ("SOMETHING_NEW", "IN_FLIGHT"),
    ],
)
def test_each_packs_state_is_normalised(detail: str, state: str) -> None:
    assert normalised(detail) == state


def test_a_state_change_is_one_hop_then_one_head_update(table: tuple[Any, Stubber]) -> None:
    found, stubber = table
    # Given a journal whose clock says AT (the hop first: a reader of the head's new state finds its step)
    stubber.add_response(
        "put_item",
        {},
        {
            "TableName": "journal",
            "Item": {
                "pk": "MD-01#SR-1",
                "sk": f"hop#{AT.isoformat()}#000000",
                "at": AT.isoformat(),
                "step": "error",
                "system": "hub",
                "outcome": "ERROR",
                "detail": "MDM refused",
                "expiresAt": int((AT + timedelta(days=35)).timestamp()),
            },
        },
    )
    stubber.add_response(
        "update_item",
        {},
        {
            "TableName": "journal",
            "Key": {"pk": "MD-01#SR-1", "sk": "head"},
            "UpdateExpression": "SET stateBefore = if_not_exists(#state, :new), #point = :point, #id = :id, #state = :state, "
            "detailState = :detail, reason = :reason, updatedAt = :at, pointState = :pointState, "
            "receivedAt = if_not_exists(receivedAt, :at), #writeMark = :writeMark REMOVE expiresAt",
            # never over a newer state (a redelivered older step is ignored; tests/integration/test_journal_writes.py),
            # nor this very write again (a retry of it whose answer was lost: test_a_head_whose_answer_was_lost_...)
            "ConditionExpression": "(attribute_not_exists(updatedAt) OR updatedAt <= :at) "
            "AND (attribute_not_exists(#writeMark) OR #writeMark <> :writeMark)",
            "ExpressionAttributeNames": {"#point": "point", "#id": "id", "#state": "state", "#writeMark": "writeMark"},
            "ExpressionAttributeValues": {
                ":point": "MD-01",
                ":id": "SR-1",
                ":state": "FAILED",
                ":detail": "ERROR",
                ":reason": "MDM refused",
                ":at": AT.isoformat(),
                ":pointState": "MD-01#FAILED",
                ":new": "NEW",
                ":writeMark": ANY,  # a fresh one each write
            },
            "ReturnValues": "ALL_OLD",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )

    metrics.clear_metrics()

    # When a request goes to ERROR with a step
    Journal(found, clock=lambda: AT).changed("MD-01", "SR-1", "ERROR", reason="MDM refused", step="error")

    # Then the head (failed: no expiry) and the hop (which expires) were written, as the stubber expected them (a call
    # it did not expect fails, and the journal would count it as a failed write)
    assert "JournalWriteFailed" not in metrics.metric_set


def test_a_head_written_over_a_newer_one_is_ignored_not_counted_as_failed(table: tuple[Any, Stubber]) -> None:
    found, stubber = table
    stubber.add_client_error("update_item", "ConditionalCheckFailedException")
    metrics.clear_metrics()
    Journal(found, hops=False, clock=lambda: AT).changed("MD-01", "SR-1", "SENT")
    assert "JournalWriteFailed" not in metrics.metric_set


def _emitted(output: str) -> list[tuple[str, str, float, str]]:
    """The per-point metrics printed in the embedded metric format: (name, point, value, unit)."""
    found = []
    for line in output.splitlines():
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "utilhub"
            assert directive["Dimensions"] == [["point"]]
            found += [(m["Name"], blob["point"], value, m["Unit"]) for m in directive["Metrics"] for value in blob[m["Name"]]]
    return found


@pytest.mark.parametrize(
    ("before", "detail", "counted"),
    [
        # a new head is a transaction received, whatever its first state
        ({}, "PENDING", [("TransactionsReceived", 1.0)]),
        ({}, "RUNNING", [("TransactionsReceived", 1.0)]),
        # a state that becomes FAILED or COMPLETED is counted once, not when the same state is written again
        ({"state": "IN_FLIGHT", "receivedAt": "2026-12-07T05:59:58+00:00"}, "ERROR", [("TransactionsFailed", 1.0)]),
        ({"state": "FAILED", "receivedAt": "2026-12-07T05:59:58+00:00"}, "ERROR", []),
        ({"state": "RECEIVED", "receivedAt": "2026-12-07T05:59:58+00:00"}, "WAITING", []),
        # a completed one with how long it took since it was received, in milliseconds
        (
            {"state": "IN_FLIGHT", "receivedAt": "2026-12-07T05:59:58.500000+00:00"},
            "SYNCHRONIZED",
            [("TransactionsCompleted", 1.0), ("TransactionLatency", 1500.0)],
        ),
        ({"state": "COMPLETED", "receivedAt": "2026-12-07T05:59:58+00:00"}, "DISCARDED", []),
    ],
)
def test_a_head_written_counts_per_point_what_was_received_completed_and_failed(
    table: tuple[Any, Stubber], capsys: pytest.CaptureFixture[str], before: dict[str, str], detail: str, counted: list[tuple[str, float]]
) -> None:
    found, stubber = table
    # Given the head as it was before the write (DynamoDB's ALL_OLD answer: nothing when the head is new)
    old = {"Attributes": {k: {"S": v} for k, v in before.items()}} if before else {}
    stubber.add_response("update_item", old, None)
    capsys.readouterr()

    # When the transaction's state is written
    Journal(found, hops=False, clock=lambda: AT).changed("MD-01", "SR-1", detail)

    # Then the metrics counted are those of what changed, each with its point as its one dimension
    emitted = _emitted(capsys.readouterr().out)
    assert [(name, value) for name, _, value, _ in emitted] == counted
    assert {point for _, point, _, _ in emitted} <= {"MD-01"}
    assert {unit for name, _, _, unit in emitted if name == "TransactionLatency"} <= {"Milliseconds"}


@pytest.mark.parametrize(
    ("before", "detail", "counted"),
    [
        (None, "PENDING", [("TransactionsReceived", 1.0)]),
        ("RUNNING", "ERROR", [("TransactionsFailed", 1.0)]),
        ("SENT", "SYNCHRONIZED", [("TransactionsCompleted", 1.0), ("TransactionLatency", 1500.0)]),
        ("ERROR", "ERROR", []),
    ],
)
def test_a_head_whose_answer_was_lost_counts_from_the_state_it_replaced(
    capsys: pytest.CaptureFixture[str], before: str | None, detail: str, counted: list[tuple[str, float]]
) -> None:
    from moto import mock_aws

    from tests.helpers import answer_lost_once

    with mock_aws():
        found = boto3.resource("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x").create_table(
            TableName="journal",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        # Given the transaction's head in its state before, received 1.5 s before AT (none: a new transaction)
        if before is not None:
            Journal(found, hops=False, clock=lambda: AT - timedelta(seconds=1.5)).changed("MD-01", "SR-1", before)
        capsys.readouterr()

        # When its next state is written, DynamoDB applies it and its answer is lost (the SDK sends it again)
        with answer_lost_once(found.meta.client, "UpdateItem", lambda _: True) as retried:
            Journal(found, hops=False, clock=lambda: AT).changed("MD-01", "SR-1", detail)

        # Then what it changed is counted, as without the lost answer; the head is in its new state
        assert len(retried) == 1
        assert [(name, value) for name, _, value, _ in _emitted(capsys.readouterr().out)] == counted
        head = Journal(found).head("MD-01", "SR-1")
        assert head is not None
        assert (head["state"], head["updatedAt"]) == (normalised(detail), AT.isoformat())
    assert "JournalWriteFailed" not in metrics.metric_set


def test_a_head_the_journal_could_not_write_counts_nothing(table: tuple[Any, Stubber], capsys: pytest.CaptureFixture[str]) -> None:
    found, stubber = table
    stubber.add_client_error("update_item", "ProvisionedThroughputExceededException")
    capsys.readouterr()
    Journal(found, hops=False, clock=lambda: AT).changed("OC-01", "ORD-1/2", "SUCCEEDED")
    assert _emitted(capsys.readouterr().out) == []
    metrics.clear_metrics()


def test_without_hops_only_the_head_is_written(table: tuple[Any, Stubber]) -> None:
    found, stubber = table
    stubber.add_response("update_item", {}, None)
    metrics.clear_metrics()
    Journal(found, hops=False, clock=lambda: AT).changed("OC-01", "ORD-1/2", "RUNNING", step="intake", system="OSM")
    assert "JournalWriteFailed" not in metrics.metric_set  # no hop written: the stubber would have refused it


def test_a_failed_journal_write_never_fails_the_caller_and_is_counted(table: tuple[Any, Stubber]) -> None:
    found, stubber = table
    stubber.add_client_error("put_item", "AccessDeniedException")
    stubber.add_client_error("update_item", "ProvisionedThroughputExceededException")
    metrics.clear_metrics()

    Journal(found, clock=lambda: AT).changed("OC-01", "ORD-1/2", "FAILED", reason="x", step="workflow failed")

    assert metrics.metric_set["JournalWriteFailed"]["Value"] == [1.0, 1.0]
    metrics.clear_metrics()


def test_a_listing_reads_the_index_partitions_of_its_filter_in_order() -> None:
    assert Journal._partitions("OC-01", "FAILED") == [("ByPointState", "pointState", "OC-01#FAILED")]
    assert [p[2] for p in Journal._partitions("MD-01", None)] == ["MD-01#RECEIVED", "MD-01#IN_FLIGHT", "MD-01#COMPLETED", "MD-01#FAILED"]
    assert Journal._partitions(None, "FAILED") == [("ByState", "state", "FAILED")]
    assert [p[0] for p in Journal._partitions(None, None)] == ["ByState"] * 4


def test_a_cursor_is_given_back_as_it_was_given_and_a_forged_one_is_refused() -> None:
    key = {"pk": "OC-01#ORD-1/2", "sk": "head", "pointState": "OC-01#FAILED", "updatedAt": AT.isoformat()}
    cursor = journal._write_cursor(1, key)
    assert journal._read_cursor(cursor, 4) == (1, key)
    assert journal._read_cursor(None, 4) == (0, None)
    for forged in ("xyz", journal._write_cursor(4, key), journal._write_cursor(0, {"pk": {"S": "x"}})):
        with pytest.raises(journal.InvalidCursor):
            journal._read_cursor(forged, 4)


@pytest.mark.parametrize(
    ("path", "forwarded"),
    [
        ("/order-to-cash/fulfillment-orders/ORD-1/revisions/2/resubmission", True),
        ("/field-work/activities/CCB/A%2F1/resubmission", True),
        ("/meter-data/sync-requests/SR-1/resubmission", True),
        ("/ops/transactions/OC-01/ORD-1%2F2/resubmission", False),
        ("/ops/dead-letters/meter-data%2Frelay/redrive", False),
        ("/meter-data/sync-requests:batch", False),
        ("/meter-data/../ops/resubmission", False),
        ("/meter-data/%2E%2E/ops/x/resubmission", False),
        ("https://elsewhere.example/x/resubmission", False),
    ],
)
def test_only_a_packs_resubmission_route_is_forwarded(path: str, forwarded: bool) -> None:
    assert (RESUBMISSION_PATH.fullmatch(path) is not None) is forwarded


def test_the_api_called_is_the_one_the_request_came_in_through() -> None:
    assert (
        api_base_url("abc123.execute-api.eu-west-1.amazonaws.com", "evil.example") == "https://abc123.execute-api.eu-west-1.amazonaws.com"
    )
    assert api_base_url("127.0.0.1", "127.0.0.1:3000") == "http://127.0.0.1:3000"
    # a local request naming another host is sent nowhere but over HTTPS to its domain
    assert api_base_url("127.0.0.1", "evil.example:80") == "https://127.0.0.1"
    with pytest.raises(ConfigurationError):
        api_base_url("host with space", None)


def test_an_id_of_ids_joined_by_a_slash_is_a_path_parameter_only_where_declared() -> None:
    refuse_in_parameters("pathParameters", {"id": "ORD-1/2"}, path=True, compound=frozenset({"id"}))
    with pytest.raises(Problem):
        refuse_in_parameters("pathParameters", {"id": "ORD-1/2"}, path=True)
    for hostile in ("ORD-1/", "/ORD", "ORD/../x", "A/\u202e"):
        with pytest.raises(Problem):
            refuse_in_parameters("pathParameters", {"id": hostile}, path=True, compound=frozenset({"id"}))


def failed_heads(*ids: str) -> dict[str | None, journal.Page]:
    """Pages of FAILED OC-01 heads, two a page, each item's continuing cursor ``after:<id>``: a listing by cursor."""
    pages: dict[str | None, journal.Page] = {}
    chunks = [ids[n : n + 2] for n in range(0, len(ids), 2)]
    for number, chunk in enumerate(chunks):
        start = None if number == 0 else f"page:{number}"
        last = number == len(chunks) - 1
        items = [{"point": "OC-01", "id": i, "state": "FAILED"} for i in chunk]
        pages[start] = journal.Page(items, None if last else f"page:{number + 1}", [f"after:{i}" for i in chunk])
        # a call continuing after an item of this page lists the rest of the listing from there
        for position, i in enumerate(chunk):
            rest = chunk[position + 1 :]
            pages[f"after:{i}"] = journal.Page(
                [{"point": "OC-01", "id": r, "state": "FAILED"} for r in rest],
                None if last else f"page:{number + 1}",
                [f"after:{r}" for r in rest],
            )
    return pages


def test_a_bulk_resubmission_cut_short_continues_past_the_refused_and_tells_refused_from_failed() -> None:
    # Given five failed heads: two the pack refuses first (409: not failed any more), one whose route fails (502),
    # and two it resubmits; and a call whose time runs out after three tries
    pages = failed_heads("R-1", "R-2", "F-1", "OK-1", "OK-2")
    answers = {"R-1": Problem(409, "Conflict", "not failed any more"), "R-2": Problem(409, "Conflict", "not failed any more")}
    answers["F-1"] = Problem(502, "Bad gateway", "The pack's resubmission answered 500.", "resubmission-failed")
    tried: list[str] = []

    def resubmit(point: str, transaction_id: str) -> None:
        tried.append(transaction_id)
        if transaction_id in answers:
            raise answers[transaction_id]

    def calls_budget(tries: int) -> Any:
        return lambda: len(tried) >= tries

    # When the operator calls, then calls again with the cursor the first call gave
    first = resubmit_listed(pages.__getitem__, resubmit, cursor=None, out_of_time=calls_budget(3))
    second = resubmit_listed(pages.__getitem__, resubmit, cursor=first["cursor"], out_of_time=calls_budget(100))

    # Then the first reports the refused with their reason and the failed apart, and where to continue
    assert first == {
        "resubmitted": 0,
        "refused": [
            {"point": "OC-01", "id": "R-1", "status": 409, "reason": "not failed any more"},
            {"point": "OC-01", "id": "R-2", "status": 409, "reason": "not failed any more"},
        ],
        "failed": [{"point": "OC-01", "id": "F-1", "status": 502, "reason": "The pack's resubmission answered 500."}],
        "remaining": True,
        "cursor": "after:F-1",
    }
    # And the second goes on past them (no refused head tried again) to the last
    assert second == {"resubmitted": 2, "refused": [], "failed": []}
    assert tried == ["R-1", "R-2", "F-1", "OK-1", "OK-2"]
