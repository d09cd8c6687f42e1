"""CU-01 and CU-02's rules (utilhub.packs.customer.customers) as the pack runs them, without sockets: its store,
cross-references, queue and journal in moto (in-process, ``mock_aws``, real boto3), and CCB answered by CCB's
simulator (``localhub.simulators.ccb``, CCB's own contract and codes) through the hub's own connector, its HTTP
pool answering from the simulator's WSGI application in this process."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3
from werkzeug.test import Client

from localhub.simulators.ccb import CcbSimulator
from tests.helpers import answer_lost_once, made_by_oracles_pack
from utilhub.packs.customer.ccb import CcbCustomerChange, CcbCustomerClient, CcbCustomerIn
from utilhub.packs.customer.customers import (
    ORDER_POINT,
    UPDATE_POINT,
    CustomerSync,
    ImportedCustomerMismatch,
    UpdateMessage,
    end_overdue_synchronizations,
    failure_reason,
    imported_mismatch,
)
from utilhub.packs.customer.model import AccountUpdateIn, SiebelOrderIn
from utilhub.packs.customer.store import ConcurrentChange, CustomerState, CustomerStore, timestamp
from utilhub.platform import aws, connectors, wiring
from utilhub.platform.journal import Journal
from utilhub.platform.observability import metrics
from utilhub.platform.problems import Problem
from utilhub.platform.settings import Settings
from utilhub.platform.xref import CrossReferenceStore, SystemId

REGION = "eu-west-1"
SUBMITTED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
LATER = SUBMITTED + timedelta(hours=1)


class InProcessPool:
    """What ``HttpConnector`` asks of urllib3's pool (``request``), answered by a simulator's WSGI application in this
    process: the connector's own classification of statuses, credentials and journal hops run as they do over HTTP."""

    def __init__(self, app: Any) -> None:
        self._client = Client(app)

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, **_: Any) -> Any:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        answer = self._client.open(
            parts.path, query_string=parts.query, method=method, data=body, headers=headers, environ_overrides={"RAW_URI": target}
        )
        return urllib3.HTTPResponse(body=answer.get_data(), status=answer.status_code, headers=dict(answer.headers), preload_content=True)


@dataclass
class Pack:
    sync: CustomerSync
    ccb: CcbSimulator
    store: CustomerStore
    xref: CrossReferenceStore
    sqs: Any
    queue_url: str
    journal: Journal
    table: Any
    journal_table: str

    def changes_sent(self) -> list[list[str]]:
        """The parts of each change CCB received, in order."""
        return [m["parts"] for m in self.ccb.received if m["operation"] == "change"]

    def created(self) -> list[str]:
        return [m["siebelAccountId"] for m in self.ccb.received if m["operation"] == "create"]

    def queued(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageSystemAttributeNames=["All"]
        )
        return answer.get("Messages", [])  # type: ignore[no-any-return]

    def import_links(self, siebel_id: str, person_id: str | None, account_id: str | None) -> None:
        """What ``POST /ops/cross-references:import`` writes for a customer Oracle's packs synchronized."""
        if person_id:
            self.xref.link("PERSON", SystemId("SEBL", siebel_id), SystemId("CCB", person_id))
        if account_id:
            self.xref.link("ACCOUNT", SystemId("SEBL", siebel_id), SystemId("CCB", account_id))


@pytest.fixture(scope="module")
def aws_in_process() -> Iterator[itertools.count[int]]:
    """moto in this process for the module (started once: each test makes its own tables and queue)."""
    import boto3
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", REGION)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.setenv(name, "testing")
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        env.delenv("UTILHUB_JOURNAL_TABLE", raising=False)
        with mock_aws():
            boto3.setup_default_session()
            aws.reset_clients()
            wiring.reset()
            yield itertools.count(1)
    aws.reset_clients()
    wiring.reset()


@pytest.fixture
def pack(aws_in_process: itertools.count[int], monkeypatch: pytest.MonkeyPatch) -> Iterator[Pack]:
    import boto3

    n = next(aws_in_process)
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName=f"xref-{n}",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "synchronizingWait", "AttributeType": "S"},
            {"AttributeName": "synchronizingSince", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "Synchronizing",
                "KeySchema": [
                    {"AttributeName": "synchronizingWait", "KeyType": "HASH"},
                    {"AttributeName": "synchronizingSince", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    journal_table = dynamodb.create_table(
        TableName=f"journal-{n}",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=f"customer-updates-{n}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    ccb = CcbSimulator()
    monkeypatch.setattr(connectors, "_pool", lambda: InProcessPool(ccb))
    client = CcbCustomerClient(connectors.HttpConnector("CCB", "https://ccb.example", None, Settings()))
    store, xref = CustomerStore(table), CrossReferenceStore(table)
    metrics.clear_metrics()
    yield Pack(
        CustomerSync(client, store, xref, sqs, queue_url),
        ccb,
        store,
        xref,
        sqs,
        queue_url,
        Journal(journal_table),
        table,
        journal_table.name,
    )
    metrics.clear_metrics()
    wiring.reset()


@pytest.fixture
def journaled(pack: Pack, monkeypatch: pytest.MonkeyPatch) -> Pack:
    """The pack recording into its journal (the process's journal table): for the tests about what is journaled."""
    monkeypatch.setenv("UTILHUB_JOURNAL_TABLE", pack.journal_table)
    wiring.reset()
    return pack


def account(account_id: str = "A1", name: str = "Ada Lovelace", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": account_id,
        "name": name,
        "address": {"type": "Billing", "line1": "12 Analytical Row", "city": "Springfield", "state": "IL", "postalCode": "62701"},
        "contact": {"firstName": "Ada", "lastName": "Lovelace", "emailAddress": "ada@example.com", "phones": []},
        "billingProfile": {"id": f"BP-{account_id}", "paymentMethod": "Direct Debit", "billRoute": "Email", "billCycleDay": 5},
        "statementProfile": {"id": f"ST-{account_id}", "format": "Detailed", "billRoute": "Postal"},
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def order(order_id: str, *accounts: dict[str, Any], submitted: datetime | None = SUBMITTED) -> SiebelOrderIn:
    body: dict[str, Any] = {"orderId": order_id, "lines": [{"lineId": f"L{n}", "billingAccount": a} for n, a in enumerate(accounts, 1)]}
    if submitted is not None:
        body["submittedAt"] = submitted.isoformat()
    return SiebelOrderIn.model_validate(body)


def update(update_id: str = "U-1", changed: datetime = LATER, **parts: Any) -> AccountUpdateIn:
    return AccountUpdateIn.model_validate({"updateId": update_id, "changedAt": changed.isoformat(), **parts})


def message(siebel_id: str, update_id: str = "U-1", changed: datetime = LATER, **parts: Any) -> UpdateMessage:
    return UpdateMessage(siebelAccountId=siebel_id, updateId=update_id, changedAt=changed, parts=parts)


def counted(name: str) -> list[float]:
    """The values of the pack's count metric ``name`` (none when it was not emitted)."""
    emitted = metrics.metric_set.get(name)
    if emitted is None:
        return []
    assert emitted["Unit"] == "Count"
    return list(emitted["Value"])


def logged(caplog: pytest.LogCaptureFixture, message: str, *fields: str) -> list[tuple[Any, ...]]:
    """The log lines with ``message``: their level and the ``fields`` they carry."""
    return [(r.levelname, *(getattr(r, f, None) for f in fields)) for r in caplog.records if r.getMessage() == message]


def hops(pack: Pack, point: str, transaction_id: str) -> list[tuple[str, str, str]]:
    return [(h["step"], h["system"], h.get("outcome", "")) for h in pack.journal.timeline(point, transaction_id) if "step" in h]


# ---------------------------------------------------------------------------------------------------- CU-01


def test_an_order_creates_each_billing_account_once_in_ccb_codes_links_it_and_records_what_ccb_was_given(pack: Pack) -> None:
    # Given CCB not knowing Siebel accounts A1 and A2
    # When an order bills three lines to them (two to A1)
    answer = pack.sync.synchronize_order(order("SO-1", account("A1"), account("A2", name="Grace Hopper"), account("A1")))

    # Then each is created once, CREATED with CCB's ids
    customers = answer["customers"]
    assert answer["orderId"] == "SO-1"
    assert [(c["siebelAccountId"], c["action"]) for c in customers] == [("A1", "CREATED"), ("A2", "CREATED")]
    assert pack.created() == ["A1", "A2"]
    held = pack.ccb.customer(customers[0]["ccbPersonId"])
    assert (held.accountId, held.person.name, held.account.paymentMethod, held.billRoute.billRouteType) == (
        customers[0]["ccbAccountId"],
        "Ada Lovelace",
        "DD",
        "EMAIL",
    )
    assert held.statement is not None
    assert held.statement.statementFormat == "DETL"
    # And the cross-references link the Siebel account to CCB's person and account
    assert pack.xref.lookup("PERSON", SystemId("SEBL", "A1"), "CCB") == customers[0]["ccbPersonId"]
    assert pack.xref.lookup("ACCOUNT", SystemId("SEBL", "A1"), "CCB") == customers[0]["ccbAccountId"]
    # And the hub records the customer as synchronized, with the image CCB was given and each part's time (submittedAt)
    state = pack.store.get("A1")
    assert state is not None
    assert (state.synchronized, state.synchronizing, state.ccbPersonId, state.ccbAccountId) == (
        True,
        False,
        customers[0]["ccbPersonId"],
        customers[0]["ccbAccountId"],
    )
    assert state.image == CcbCustomerIn.model_validate({**held.model_dump(exclude={"personId", "accountId"})})
    at = timestamp(SUBMITTED)
    assert state.changedAt == dict.fromkeys(("name", "address", "contact", "billingProfile", "statementProfile"), at)
    assert counted("CustomersCreated") == [2.0]
    assert "CustomersUpdated" not in metrics.metric_set
    assert "CustomersUnchanged" not in metrics.metric_set


def test_an_order_is_journaled_from_siebel_through_each_customer_to_synchronized(journaled: Pack) -> None:
    pack = journaled
    pack.sync.synchronize_order(order("SO-1", account("A1"), account("A2")))

    head = pack.journal.head(ORDER_POINT, "SO-1")
    assert head is not None
    assert (head["detailState"], head["reason"]) == ("SYNCHRONIZED", "A1 CREATED, A2 CREATED")
    steps = hops(pack, ORDER_POINT, "SO-1")
    assert steps[0] == ("intake", "Siebel", "SYNCHRONIZING")
    assert ("customer A1", "CCB", "CREATED") in steps
    assert ("customer A2", "CCB", "CREATED") in steps
    assert steps[-1] == ("synchronized", "hub", "SYNCHRONIZED")
    # the calls to CCB are hops of the order (the connector records them for the transaction worked on)
    assert ("call POST /customers", "CCB", "HTTP 201") in steps


def test_a_repeated_order_is_unchanged_and_a_changed_one_sends_only_the_parts_that_differ(pack: Pack) -> None:
    # Given an order that created A1
    first = pack.sync.synchronize_order(order("SO-1", account("A1")))["customers"][0]

    # When the same order comes again, then one with a new name, submitted later
    again = pack.sync.synchronize_order(order("SO-1", account("A1")))["customers"][0]
    changed = pack.sync.synchronize_order(order("SO-2", account("A1", name="Ada King"), submitted=LATER))["customers"][0]

    # Then the repeat is UNCHANGED with the same ids, the change UPDATED, CCB got the person only and made one customer
    assert again == {**first, "action": "UNCHANGED"}
    assert changed == {**first, "action": "UPDATED"}
    assert pack.changes_sent() == [["person"]]
    assert pack.created() == ["A1"]
    assert pack.ccb.customer(first["ccbPersonId"]).person.name == "Ada King"
    state = pack.store.get("A1")
    assert state is not None
    assert state.changedAt["name"] == timestamp(LATER)
    assert counted("CustomersUnchanged") == [1.0]
    assert counted("CustomersUpdated") == [1.0]


def test_an_order_older_than_what_ccb_has_changes_nothing(pack: Pack) -> None:
    # Given A1 synchronized by an order submitted later
    pack.sync.synchronize_order(order("SO-2", account("A1", name="Ada King"), submitted=LATER))

    # When an order submitted before it arrives late
    late = pack.sync.synchronize_order(order("SO-1", account("A1")))["customers"][0]

    # Then it is UNCHANGED and nothing reaches CCB
    assert late["action"] == "UNCHANGED"
    assert pack.changes_sent() == []
    assert pack.ccb.customer(late["ccbPersonId"]).person.name == "Ada King"


def test_an_order_without_a_statement_profile_leaves_ccbs_statement_and_its_time_as_they_are(pack: Pack) -> None:
    # Given A1 synchronized with its statement profile
    pack.sync.synchronize_order(order("SO-1", account("A1")))

    # When a later order carries A1 without a statement profile, and with another name
    outcome = pack.sync.synchronize_order(order("SO-2", account("A1", name="Ada King", statementProfile=None), submitted=LATER))

    # Then only the name changes at CCB; the statement's time stays the first order's
    assert outcome["customers"][0]["action"] == "UPDATED"
    assert pack.changes_sent() == [["person"]]
    state = pack.store.get("A1")
    assert state is not None
    assert state.changedAt["statementProfile"] == timestamp(SUBMITTED)
    assert state.changedAt["name"] == timestamp(LATER)


def test_a_new_customer_without_a_statement_profile_or_a_contact_has_neither_in_ccb(pack: Pack) -> None:
    outcome = pack.sync.synchronize_order(order("SO-1", account("A1", statementProfile=None, contact=None)))["customers"][0]

    held = pack.ccb.customer(outcome["ccbPersonId"])
    assert (held.statement, held.contacts) == (None, [])
    state = pack.store.get("A1")
    assert state is not None
    assert set(state.changedAt) == {"name", "address", "contact", "billingProfile"}


def test_an_order_without_its_submission_time_is_siebels_as_of_the_hubs_clock(pack: Pack) -> None:
    before = timestamp(datetime.now(UTC))
    pack.sync.synchronize_order(order("SO-1", account("A1"), submitted=None))
    after = timestamp(datetime.now(UTC))

    state = pack.store.get("A1")
    assert state is not None
    assert before <= state.changedAt["name"] <= after


def test_unmapped_code_values_of_every_account_are_named_together_and_nothing_is_sent(journaled: Pack) -> None:
    pack = journaled
    bad_pay = account("A1", billingProfile={"id": "BP-1", "paymentMethod": "Barter"})
    bad_route = account("A2", statementProfile={"id": "ST-2", "format": "Detailed", "billRoute": "Pigeon"})

    with pytest.raises(Problem) as refused:
        pack.sync.synchronize_order(order("SO-1", bad_pay, bad_route))

    assert refused.value.status == 422
    pointers = [e.pointer for e in refused.value.errors]
    assert "#/lines/0/billingAccount/billingProfile/paymentMethod" in pointers
    assert "#/lines/1/billingAccount/statementProfile/billRoute" in pointers
    assert list(pack.ccb.received) == []
    assert pack.store.get("A1") is None
    assert pack.journal.head(ORDER_POINT, "SO-1") is None


def test_ccb_failing_during_an_order_is_journaled_and_leaves_the_customer_synchronizing_so_its_updates_are_kept(journaled: Pack) -> None:
    pack = journaled
    # Given CCB answering A2's create with an outage, after A1's calls
    pack.ccb.add_fault({"kind": "down", "after": 2, "count": 5})

    # When an order for A1 and A2 comes
    with pytest.raises(Problem) as failed:
        pack.sync.synchronize_order(order("SO-1", account("A1"), account("A2")))

    # Then it is a 502 naming CCB, journaled as ERROR with that answer; A1 is recorded, A2 still synchronizing
    assert failed.value.status == 502
    head = pack.journal.head(ORDER_POINT, "SO-1")
    assert head is not None
    assert head["detailState"] == "ERROR"
    assert head["reason"].startswith("502 Bad gateway")
    assert ("failed", "hub", "ERROR") in hops(pack, ORDER_POINT, "SO-1")
    first, second = pack.store.get("A1"), pack.store.get("A2")
    assert first is not None
    assert first.synchronized
    assert second is not None
    assert (second.synchronized, second.synchronizing) == (False, True)
    assert pack.sync.accept_update("A2", update(name="Ada King"))[0] == 202
    # And once CCB is back and the order posted again, it completes A2, A1 unchanged
    pack.ccb.clear_faults()
    again = pack.sync.synchronize_order(order("SO-1", account("A1"), account("A2")))
    assert [c["action"] for c in again["customers"]] == ["UNCHANGED", "CREATED"]
    assert pack.created() == ["A1", "A2"]


def test_a_customer_ccb_has_but_the_hub_never_linked_is_found_not_made_again(pack: Pack) -> None:
    # Given CCB holds A1 as the order would make it (an earlier attempt's answer lost), and A2 with an older name
    made = pack.sync.synchronize_order(order("SO-0", account("A1"), account("A2", name="Grace")))["customers"]
    pack.table.delete_item(Key={"pk": "CUSTOMER#SEBL#A1"})
    pack.table.delete_item(Key={"pk": "CUSTOMER#SEBL#A2"})
    pack.ccb.received.clear()

    # When the order comes again, A2 now with another name
    again = pack.sync.synchronize_order(order("SO-1", account("A1"), account("A2", name="Grace Hopper")))["customers"]

    # Then nothing is created; A1, already as ordered, is CREATED; A2 UPDATED with its name only
    assert pack.created() == []
    assert [(c["siebelAccountId"], c["action"], c["ccbPersonId"]) for c in again] == [
        ("A1", "CREATED", made[0]["ccbPersonId"]),
        ("A2", "UPDATED", made[1]["ccbPersonId"]),
    ]
    assert pack.changes_sent() == [["person"]]
    assert pack.ccb.customer(made[1]["ccbPersonId"]).person.name == "Grace Hopper"
    state = pack.store.get("A2")
    assert state is not None
    assert state.synchronized


def test_a_create_ccb_refuses_as_a_duplicate_is_compared_like_a_found_customer(pack: Pack) -> None:
    # Given CCB making A1 (with another name) between the hub's lookup and its create: another order at the same moment
    pack.sync.synchronize_order(order("SO-0", account("A1", name="Ada")))
    pack.table.delete_item(Key={"pk": "CUSTOMER#SEBL#A1"})
    pack.ccb.by_siebel_id["A1-hidden"] = pack.ccb.by_siebel_id.pop("A1")  # the lookup misses it...
    person = pack.ccb.records[f"PERSON#{pack.ccb.by_siebel_id['A1-hidden']}"]

    def create_refused(method: str, path: str, body: bytes, headers: dict[str, str], *, original: Any = pack.ccb.handle) -> Any:
        if method == "POST":  # ...and the create finds it: CCB refuses a second customer for A1 (409)
            pack.ccb.by_siebel_id["A1"] = pack.ccb.by_siebel_id.pop("A1-hidden")
        return original(method, path, body, headers)

    pack.ccb.handle = create_refused  # type: ignore[method-assign]

    outcome = pack.sync.synchronize_order(order("SO-1", account("A1", name="Ada Lovelace")))["customers"][0]

    # Then the one CCB holds is brought up to date, not made twice
    assert outcome["action"] == "UPDATED"
    assert pack.created() == ["A1"]
    assert person["name"] == "Ada Lovelace"


def test_an_order_for_an_imported_customer_ccb_does_not_find_by_siebel_id_gives_it_the_whole_image(pack: Pack) -> None:
    # Given a customer Oracle's pack made under another Siebel id, imported as A1's
    person_id, account_id = made_by_oracles_pack(pack.ccb, "LEGACY-1")
    pack.import_links("A1", person_id, account_id)

    # When an order for A1 comes
    outcome = pack.sync.synchronize_order(order("SO-1", account("A1", name="Ada King")))["customers"][0]

    # Then the imported customer is UPDATED with the whole image, none created; the links stand, the customer is recorded
    assert outcome == {"siebelAccountId": "A1", "ccbPersonId": person_id, "ccbAccountId": account_id, "action": "UPDATED"}
    assert pack.created() == []
    assert pack.changes_sent() == [["account", "addresses", "billRoute", "contacts", "person", "statement"]]
    assert pack.ccb.customer(person_id).person.name == "Ada King"
    assert pack.sync.imported_ids("A1") == (person_id, account_id)
    state = pack.store.get("A1")
    assert state is not None
    assert (state.synchronized, state.ccbPersonId, state.ccbAccountId) == (True, person_id, account_id)


def test_an_order_for_an_imported_customer_ccb_finds_under_its_siebel_id_is_compared_like_any_found(pack: Pack) -> None:
    # Given A1 made in CCB under its own Siebel id by Oracle's pack, and imported
    person_id, account_id = made_by_oracles_pack(pack.ccb, "A1", name="Ada King")
    pack.import_links("A1", person_id, account_id)

    outcome = pack.sync.synchronize_order(order("SO-1", account("A1", name="Ada King")))["customers"][0]

    # Then it is updated with the parts that differ only (CCB holds the name already), never created again
    assert outcome == {"siebelAccountId": "A1", "ccbPersonId": person_id, "ccbAccountId": account_id, "action": "UPDATED"}
    assert pack.created() == []
    assert "person" not in pack.changes_sent()[0]


@pytest.mark.parametrize("found_by_siebel_id", [True, False], ids=["ccb-finds-another-person", "imported-person-has-another-account"])
def test_an_order_whose_imported_links_ccb_contradicts_is_refused_before_anything_is_marked_or_sent(
    pack: Pack, found_by_siebel_id: bool
) -> None:
    # Given A1 imported as linked to a person and an account that CCB does not hold together
    person_id, own_account = made_by_oracles_pack(pack.ccb, "LEGACY-1")
    other_person, other_account = made_by_oracles_pack(pack.ccb, "A1" if found_by_siebel_id else "LEGACY-2")
    pack.import_links("A1", person_id, own_account if found_by_siebel_id else other_account)
    pack.ccb.received.clear()

    # When an order for A1 comes
    with pytest.raises(Problem) as refused:
        pack.sync.synchronize_order(order("SO-1", account("A1")))

    # Then it is a 409 naming both, nothing is written at CCB, nothing recorded or marked, the links stand
    assert refused.value.status == 409
    detail = refused.value.detail
    linked = own_account if found_by_siebel_id else other_account
    assert detail.startswith(f"Siebel account A1 is linked to CCB person {person_id} and account {linked} (imported), but CCB ")
    if found_by_siebel_id:
        assert f"but CCB finds person {other_person} and account {other_account} under it" in detail
    else:
        assert f"but CCB person {person_id} has account {own_account}: not synchronized." in detail
    assert pack.changes_sent() == []
    assert pack.created() == []
    assert pack.store.get("A1") is None
    assert pack.sync.imported_ids("A1") == (person_id, own_account if found_by_siebel_id else other_account)


def test_an_imported_customer_is_one_whose_person_holds_the_imported_account() -> None:
    held = CcbCustomerIn.model_validate(
        {
            "siebelAccountId": "LEGACY-1",
            "person": {"name": "Ada"},
            "account": {"paymentMethod": "DD", "billingProfileId": "BP-1"},
            "addresses": [{"addressType": "BILL", "address1": "1 Main St", "city": "Springfield", "country": "USA"}],
            "billRoute": {"billRouteType": "POSTAL"},
        }
    )
    from utilhub.packs.customer.ccb import CcbCustomer

    customer = CcbCustomer.model_validate({**held.model_dump(), "personId": "P1", "accountId": "C1"})
    assert imported_mismatch("A1", ("P1", "C1"), customer) is None
    assert imported_mismatch("A1", ("P1", "C2"), customer) == (
        "Siebel account A1 is linked to CCB person P1 and account C2 (imported), but CCB person P1 has account C1: not synchronized."
    )
    assert imported_mismatch("A1", ("P1", "C1"), None) == (
        "Siebel account A1 is linked to CCB person P1 and account C1 (imported), but CCB person P1 has no customer: not synchronized."
    )


# ---------------------------------------------------------------------------------------------------- CU-02 intake


def test_a_prospects_update_is_ignored_with_the_reason_counted_and_nothing_queued(journaled: Pack) -> None:
    pack = journaled
    status, answer = pack.sync.accept_update("P1", update("U-9", name="Someone"))

    assert (status, answer["status"], answer["siebelAccountId"], answer["updateId"]) == (200, "IGNORED", "P1", "U-9")
    assert answer["reason"] == (
        "Siebel account P1 has not been synchronized to CCB: customers reach CCB through order processing only, "
        "so a prospect's updates are not sent."
    )
    assert pack.queued() == []
    state = pack.store.get("P1")
    assert state is not None
    assert (state.synchronized, state.ignoredUpdates) == (False, 1)
    assert counted("CustomerUpdatesIgnored") == [1.0]
    assert pack.journal.head(UPDATE_POINT, "P1/U-9") is None
    # and its status says so
    assert pack.sync.status("P1") == {"siebelAccountId": "P1", "synchronized": False, "ccbPersonId": None, "ccbAccountId": None}


def test_a_prospects_update_whose_answer_was_lost_is_counted_once(pack: Pack) -> None:
    # Given the count of a prospect's ignored update applied by DynamoDB, its answer lost (a read timeout under load):
    # the SDK sends it again, and its condition (not synchronized) still holds
    def counting(update: dict[str, Any]) -> bool:
        return bool(update["Key"] == {"pk": {"S": "CUSTOMER#SEBL#P1"}} and "ignoredUpdates" in update["UpdateExpression"])

    # When a prospect's update comes
    with answer_lost_once(pack.table.meta.client, "UpdateItem", counting) as retried:
        status, answer = pack.sync.accept_update("P1", update("U-9", name="Someone"))

    # Then it is ignored and counted once, not twice
    assert len(retried) == 1
    assert (status, answer["status"]) == (200, "IGNORED")
    state = pack.store.get("P1")
    assert state is not None
    assert (state.synchronized, state.ignoredUpdates) == (False, 1)


def test_a_synchronized_customers_update_is_queued_in_its_customers_group_once_and_journaled(journaled: Pack) -> None:
    pack = journaled
    pack.sync.synchronize_order(order("SO-1", account("A1")))

    status, answer = pack.sync.accept_update("A1", update("U-1", name="Ada King"))

    assert (status, answer) == (202, {"siebelAccountId": "A1", "updateId": "U-1", "status": "ACCEPTED"})
    [queued] = pack.queued()
    assert queued["Attributes"]["MessageGroupId"] == "A1"
    assert queued["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"A1#U-1").hexdigest()
    sent = UpdateMessage.model_validate_json(queued["Body"])
    assert (sent.siebelAccountId, sent.updateId, sent.changedAt, sent.parts) == ("A1", "U-1", LATER, {"name": "Ada King"})
    assert counted("CustomerUpdatesAccepted") == [1.0]
    head = pack.journal.head(UPDATE_POINT, "A1/U-1")
    assert head is not None
    assert head["detailState"] == "QUEUED"
    assert hops(pack, UPDATE_POINT, "A1/U-1") == [("intake", "Siebel", "QUEUED")]


def test_an_update_while_an_order_makes_the_customer_is_queued_not_ignored(pack: Pack) -> None:
    pack.store.mark_synchronizing("A1")

    assert pack.sync.accept_update("A1", update(name="Ada King"))[0] == 202
    assert len(pack.queued()) == 1


def test_an_imported_customers_update_is_queued_and_one_with_only_its_person_imported_is_a_prospects(pack: Pack) -> None:
    pack.import_links("A1", "2840193756", "2840193757")
    pack.import_links("A2", "3075519264", None)
    pack.import_links("A3", None, "3075519265")

    assert pack.sync.accept_update("A1", update(name="Ada King"))[0] == 202
    assert pack.sync.accept_update("A2", update(name="Ada King"))[1]["status"] == "IGNORED"
    assert pack.sync.accept_update("A3", update(name="Ada King"))[1]["status"] == "IGNORED"
    assert pack.sync.imported_ids("A2") is None
    assert pack.sync.imported_ids("A3") is None


def test_an_update_with_an_unmapped_code_value_is_refused_before_anything_is_queued(pack: Pack) -> None:
    pack.sync.synchronize_order(order("SO-1", account("A1")))

    with pytest.raises(Problem) as refused:
        pack.sync.accept_update("A1", update(billingProfile={"id": "BP-1", "paymentMethod": "Barter"}))

    assert refused.value.status == 422
    assert [e.pointer for e in refused.value.errors] == ["#/billingProfile/paymentMethod"]
    assert pack.queued() == []


# ---------------------------------------------------------------------------------------------------- CU-02 delivery


def test_a_delivered_update_gives_ccb_the_newer_parts_and_counts_the_outcome(pack: Pack) -> None:
    # Given A1 synchronized by an order
    person_id = pack.sync.synchronize_order(order("SO-1", account("A1")))["customers"][0]["ccbPersonId"]

    # When a later update changes its billing profile, then the same update is delivered again, then an older one
    new_profile = {"id": "BP-A1", "paymentMethod": "Credit Card", "billRoute": "Postal"}
    applied = pack.sync.apply_update(message("A1", "U-1", billingProfile=new_profile))
    repeated = pack.sync.apply_update(message("A1", "U-1", billingProfile=new_profile))
    older = pack.sync.apply_update(message("A1", "U-0", changed=SUBMITTED - timedelta(hours=1), name="Ada Byron"))

    # Then the first reaches CCB (its account and bill route), the repeat is stale, the older one too
    assert (applied, repeated, older) == ("applied", "stale", "stale")
    assert pack.changes_sent() == [["account", "billRoute"]]
    held = pack.ccb.customer(person_id)
    assert (held.account.paymentMethod, held.billRoute.billRouteType, held.person.name) == ("CC", "POSTAL", "Ada Lovelace")
    state = pack.store.get("A1")
    assert state is not None
    assert state.image is not None
    assert state.image.account.paymentMethod == "CC"
    assert state.changedAt["billingProfile"] == timestamp(LATER)
    assert state.changedAt["name"] == timestamp(SUBMITTED)
    assert counted("CustomerUpdatesApplied") == [1.0]
    assert counted("CustomerUpdatesStale") == [1.0, 1.0]


def test_a_newer_update_ccb_already_has_is_unchanged_and_recorded_with_its_time(pack: Pack) -> None:
    pack.sync.synchronize_order(order("SO-1", account("A1")))

    outcome = pack.sync.apply_update(message("A1", name="Ada Lovelace"))

    assert outcome == "unchanged"
    assert pack.changes_sent() == []
    state = pack.store.get("A1")
    assert state is not None
    assert state.changedAt["name"] == timestamp(LATER)
    assert counted("CustomerUpdatesUnchanged") == [1.0]


def test_an_update_of_a_part_the_order_did_not_carry_gives_it_to_ccb(pack: Pack) -> None:
    # Given A1 made without a statement profile
    person_id = pack.sync.synchronize_order(order("SO-1", account("A1", statementProfile=None)))["customers"][0]["ccbPersonId"]

    # When Siebel gives it one
    outcome = pack.sync.apply_update(message("A1", statementProfile={"id": "ST-1", "format": "Summary"}))

    # Then CCB gets the statement set-up
    assert outcome == "applied"
    assert pack.changes_sent() == [["statement"]]
    statement = pack.ccb.customer(person_id).statement
    assert statement is not None
    assert (statement.statementFormat, statement.billRouteType) == ("SUMM", "POSTAL")


def test_an_update_for_a_customer_an_order_is_making_waits_for_it(pack: Pack) -> None:
    pack.store.mark_synchronizing("A1")

    with pytest.raises(LookupError, match="customer A1 is still being synchronized by an order"):
        pack.sync.apply_update(message("A1", name="Ada King"))
    assert list(pack.ccb.received) == []


def test_an_update_for_a_customer_the_hub_has_no_record_of_is_kept_for_an_operator(pack: Pack) -> None:
    with pytest.raises(LookupError, match="customer A1 has no synchronized record"):
        pack.sync.apply_update(message("A1", name="Ada King"))
    assert list(pack.ccb.received) == []


def test_an_update_for_a_customer_whose_order_was_given_up_is_kept_until_the_order_comes_again(pack: Pack) -> None:
    pack.store.mark_synchronizing("A1")
    end_overdue_synchronizations(pack.store, now=datetime.now(UTC) + timedelta(days=1))

    with pytest.raises(LookupError, match="customer A1 was never synchronized: the order making it did not complete"):
        pack.sync.apply_update(message("A1", name="Ada King"))
    assert list(pack.ccb.received) == []


def test_an_imported_customers_first_update_gives_ccb_the_parts_as_they_are_and_records_what_ccb_answers(pack: Pack) -> None:
    # Given a customer Oracle's pack made (a prospect to the hub before the import: one of its updates was ignored)
    person_id, account_id = made_by_oracles_pack(pack.ccb, "LEGACY-1")
    pack.sync.accept_update("A1", update("U-0", name="Someone"))
    pack.import_links("A1", person_id, account_id)
    assert pack.sync.status("A1") == {"siebelAccountId": "A1", "synchronized": True, "ccbPersonId": person_id, "ccbAccountId": account_id}

    # When its update is delivered, then the same name again later
    first = pack.sync.apply_update(message("A1", "U-1", name="Ada King"))
    second = pack.sync.apply_update(message("A1", "U-2", changed=LATER + timedelta(hours=1), name="Ada King"))

    # Then the first reaches CCB as it is and the customer CCB answered is recorded; the second changes nothing
    assert (first, second) == ("applied", "unchanged")
    assert pack.changes_sent() == [["person"]]
    state = pack.store.get("A1")
    assert state is not None
    assert (state.synchronized, state.ccbPersonId, state.ccbAccountId, state.ignoredUpdates) == (True, person_id, account_id, 1)
    held = pack.ccb.customer(person_id)
    assert state.image is not None
    assert state.image.model_dump(exclude={"siebelAccountId"}) == held.model_dump(exclude={"personId", "accountId", "siebelAccountId"})
    assert state.changedAt == {"name": timestamp(LATER + timedelta(hours=1))}
    assert pack.sync.status("A1") == {"siebelAccountId": "A1", "synchronized": True, "ccbPersonId": person_id, "ccbAccountId": account_id}


@pytest.mark.parametrize("ccb_holds", ["another-account", "no-customer"])
def test_an_imported_customers_first_update_reads_ccb_first_and_changes_nothing_when_ccb_contradicts_the_links(
    pack: Pack, ccb_holds: str
) -> None:
    # Given A1 imported as linked to a person CCB holds with another account, or a person CCB does not have
    person_id, own_account = made_by_oracles_pack(pack.ccb, "LEGACY-1")
    _, other_account = made_by_oracles_pack(pack.ccb, "LEGACY-2")
    linked = (person_id, other_account) if ccb_holds == "another-account" else ("9999999901", "9999999902")
    pack.import_links("A1", *linked)
    before = pack.ccb.customer(person_id).model_dump()

    # When its update is delivered
    with pytest.raises(ImportedCustomerMismatch) as refused:
        pack.sync.apply_update(message("A1", name="Ada King"))

    # Then CCB is read, never changed, and nothing is recorded; the refusal is final (no retry changes it)
    holds = f"account {own_account}" if ccb_holds == "another-account" else "no customer"
    assert str(refused.value) == (
        f"Siebel account A1 is linked to CCB person {linked[0]} and account {linked[1]} (imported), "
        f"but CCB person {linked[0]} has {holds}: not synchronized."
    )
    assert [m["operation"] for m in pack.ccb.received if m["operation"] in ("create", "change")] == []
    assert pack.ccb.customer(person_id).model_dump() == before
    assert pack.store.get("A1") is None


def test_an_imported_customers_first_update_is_refused_unrecorded_when_ccb_answers_the_change_with_another_account(
    pack: Pack,
) -> None:
    # Given A1 imported as linked to the person and account CCB holds, and a CCB user moving that person to another
    # account between the hub's read and its change
    person_id, own_account = made_by_oracles_pack(pack.ccb, "LEGACY-1")
    _, other_account = made_by_oracles_pack(pack.ccb, "LEGACY-2")
    pack.import_links("A1", person_id, own_account)
    original = pack.ccb.handle

    def relinked_after_the_read(method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        answer = original(method, path, body, headers)
        if method == "GET" and path.endswith(f"/customers/{person_id}"):
            pack.ccb.relink(person_id, other_account)
        return answer

    pack.ccb.handle = relinked_after_the_read  # type: ignore[method-assign]

    # When its first update is delivered
    with pytest.raises(ImportedCustomerMismatch) as refused:
        pack.sync.apply_update(message("A1", name="Ada King"))

    # Then CCB's answer to the change is checked: refused, naming the account CCB answered, and nothing is recorded
    assert str(refused.value) == (
        f"CCB answered the change: Siebel account A1 is linked to CCB person {person_id} and account {own_account} "
        f"(imported), but CCB person {person_id} has account {other_account}: not synchronized."
    )
    assert pack.changes_sent() == [["person"]]
    assert pack.store.get("A1") is None


def test_a_writer_that_loses_the_race_to_record_gives_ccb_the_winners_image_again(pack: Pack) -> None:
    # Given A1 synchronized, read by this writer, then changed by another (the record's version moved on)
    person_id = pack.sync.synchronize_order(order("SO-1", account("A1")))["customers"][0]["ccbPersonId"]
    read = pack.store.get("A1")
    assert read is not None
    pack.sync.apply_update(message("A1", "U-2", changed=LATER + timedelta(hours=1), name="Ada Countess"))
    pack.ccb.received.clear()

    # When this writer applies its own older-read change and records it
    with pytest.raises(ConcurrentChange):
        pack.sync._apply(read, {"address": timestamp(LATER)}, _with_city(read, "Shelbyville"), _budget())

    # Then CCB got its change, then the winner's whole image again
    assert pack.changes_sent()[0] == ["addresses"]
    assert pack.changes_sent()[1] == ["account", "addresses", "billRoute", "contacts", "person", "statement"]
    held = pack.ccb.customer(person_id)
    assert (held.person.name, held.addresses[0].city) == ("Ada Countess", "Springfield")


def test_a_record_applied_whose_answer_was_lost_is_the_writers_own_not_a_concurrent_change(pack: Pack) -> None:
    # Given the order's record of A1 (a conditional PutItem on the version it read) applied but its answer lost (a read
    # timeout under load): the SDK sends it again, and the retry is refused, the version having moved on (by this write)
    def record(put: dict[str, Any]) -> bool:
        return bool(put["Item"]["pk"] == {"S": "CUSTOMER#SEBL#A1"} and put["Item"].get("synchronized") == {"BOOL": True})

    # When the order synchronizes A1
    with answer_lost_once(pack.table.meta.client, "PutItem", record) as retried:
        answer = pack.sync.synchronize_order(order("SO-1", account("A1")))

    # Then the order succeeds, A1 CREATED and recorded once: not a 409 "changed while this request ran", and CCB not
    # given the "winner's" image again (this writer's own)
    assert len(retried) == 1
    assert [(c["siebelAccountId"], c["action"]) for c in answer["customers"]] == [("A1", "CREATED")]
    assert pack.created() == ["A1"]
    assert pack.changes_sent() == []
    state = pack.store.get("A1")
    assert state is not None
    assert (state.synchronized, state.version) == (True, 1)


def test_a_writer_that_loses_to_an_unrecorded_customer_gives_ccb_nothing_more(pack: Pack) -> None:
    # Given A1 synchronized and read, then its record replaced by one an order is still making (not synchronized)
    pack.sync.synchronize_order(order("SO-1", account("A1")))
    read = pack.store.get("A1")
    assert read is not None
    pack.table.put_item(Item={"pk": "CUSTOMER#SEBL#A1", "synchronized": False, "synchronizing": True, "version": 7})
    pack.ccb.received.clear()

    with pytest.raises(ConcurrentChange):
        pack.sync._apply(read, {"address": timestamp(LATER)}, _with_city(read, "Shelbyville"), _budget())

    assert pack.changes_sent() == [["addresses"]]


def _with_city(state: CustomerState, city: str) -> CcbCustomerIn:
    assert state.image is not None
    image = state.image.model_dump()
    image["addresses"][0]["city"] = city
    return CcbCustomerIn.model_validate(image)


def _budget() -> Any:
    from utilhub.platform.budget import TimeBudget

    return TimeBudget()


def test_applying_to_a_customer_without_a_synchronized_record_is_refused(pack: Pack) -> None:
    with pytest.raises(LookupError, match="customer A1 has no synchronized record"):
        pack.sync._apply(CustomerState(siebelAccountId="A1"), {"name": timestamp(LATER)}, _with_city(_image_state(), "X"), _budget())
    offer = _with_city(_image_state(), "X")
    with pytest.raises(LookupError, match="customer A1 has no synchronized record"):
        pack.sync._apply(_image_state().model_copy(update={"ccbPersonId": None}), {"name": timestamp(LATER)}, offer, _budget())
    assert list(pack.ccb.received) == []


def _image_state() -> CustomerState:
    image = CcbCustomerIn.model_validate(
        {
            "siebelAccountId": "A1",
            "person": {"name": "Ada"},
            "account": {"paymentMethod": "DD", "billingProfileId": "BP-1"},
            "addresses": [{"addressType": "BILL", "address1": "1 Main St", "city": "Springfield", "country": "USA"}],
            "billRoute": {"billRouteType": "POSTAL"},
        }
    )
    return CustomerState(siebelAccountId="A1", synchronized=True, ccbPersonId="P1", ccbAccountId="C1", image=image)


# ---------------------------------------------------------------------------------------------------- status, expiry


def test_a_customer_the_hub_never_saw_is_not_found_and_a_synchronized_one_answers_its_ccb_ids(pack: Pack) -> None:
    with pytest.raises(Problem) as unknown:
        pack.sync.status("A9")
    assert (unknown.value.status, unknown.value.detail) == (404, "No Siebel account A9 is known to the hub.")

    made = pack.sync.synchronize_order(order("SO-1", account("A1")))["customers"][0]
    assert pack.sync.status("A1") == {
        "siebelAccountId": "A1",
        "synchronized": True,
        "ccbPersonId": made["ccbPersonId"],
        "ccbAccountId": made["ccbAccountId"],
    }


def test_a_synchronization_no_order_completed_within_the_bound_is_given_up_and_counted(pack: Pack) -> None:
    # Given A1 being made by an order that never completed, and A2 recorded
    pack.store.mark_synchronizing("A1")
    pack.sync.synchronize_order(order("SO-2", account("A2")))
    bound = Settings().customer.customer_synchronizing_wait_seconds

    # When the schedule runs within the bound, then after it
    within = end_overdue_synchronizations(pack.store, now=datetime.now(UTC) + timedelta(seconds=bound - 60))
    after = end_overdue_synchronizations(pack.store, now=datetime.now(UTC) + timedelta(seconds=bound + 60))

    # Then only the later run gives A1 up (a prospect again: its updates ignored), counted once; A2 is untouched
    assert (within, after) == ({"expired": 0}, {"expired": 1})
    assert counted("CustomerSynchronizationsExpired") == [1.0]
    state = pack.store.get("A1")
    assert state is not None
    assert (state.synchronized, state.synchronizing) == (False, False)
    assert pack.sync.accept_update("A1", update(name="Ada King"))[1]["status"] == "IGNORED"
    recorded = pack.store.get("A2")
    assert recorded is not None
    assert recorded.synchronized


def test_the_journal_keeps_a_hub_failures_kind_and_message() -> None:
    from utilhub.platform.connectors import TargetUnavailable

    assert failure_reason(TargetUnavailable("CCB answered 503")) == "TargetUnavailable: CCB answered 503"


def test_each_customer_an_order_links_is_logged_with_its_action(pack: Pack, caplog: pytest.LogCaptureFixture) -> None:
    pack.sync.synchronize_order(order("SO-1", account("A1"), account("A2")))

    assert logged(caplog, "customer synchronized", "siebelAccountId", "action") == [("INFO", "A1", "CREATED"), ("INFO", "A2", "CREATED")]


def test_each_delivered_update_is_logged_with_its_outcome(pack: Pack, caplog: pytest.LogCaptureFixture) -> None:
    person_id, account_id = made_by_oracles_pack(pack.ccb, "LEGACY-1")
    pack.import_links("A1", person_id, account_id)

    pack.sync.apply_update(message("A1", "U-1", name="Ada King"))
    pack.sync.apply_update(message("A1", "U-1", name="Ada King"))

    assert logged(caplog, "imported customer recorded", "siebelAccountId") == [("INFO", "A1")]
    assert logged(caplog, "customer update", "siebelAccountId", "updateId", "outcome") == [
        ("INFO", "A1", "U-1", "applied"),
        ("INFO", "A1", "U-1", "stale"),
    ]


def test_a_queued_update_carries_the_correlation_id_of_its_intake(pack: Pack) -> None:
    from utilhub.platform.observability import use_correlation_id

    pack.sync.synchronize_order(order("SO-1", account("A1")))
    use_correlation_id("intake-7")
    try:
        pack.sync.accept_update("A1", update(name="Ada King"))
    finally:
        use_correlation_id(None)

    [queued] = pack.queued()
    assert UpdateMessage.model_validate_json(queued["Body"]).correlationId == "intake-7"


def test_a_queued_update_whose_code_value_no_longer_maps_is_refused_at_delivery_naming_it(pack: Pack) -> None:
    # Given A1 synchronized, and an update queued before its payment method lost its mapping
    pack.sync.synchronize_order(order("SO-1", account("A1")))

    with pytest.raises(Problem) as refused:
        pack.sync.apply_update(message("A1", billingProfile={"id": "BP-A1", "paymentMethod": "Barter"}))

    assert refused.value.status == 422
    assert [e.pointer for e in refused.value.errors] == ["#/billingProfile/paymentMethod"]
    assert pack.changes_sent() == []


def test_a_found_customer_keeps_the_statement_an_order_without_one_does_not_carry(pack: Pack) -> None:
    # Given CCB holding A1 with a statement set-up, made by an attempt whose record was lost
    made = pack.sync.synchronize_order(order("SO-0", account("A1")))["customers"][0]
    pack.table.delete_item(Key={"pk": "CUSTOMER#SEBL#A1"})
    pack.ccb.received.clear()

    # When an order carries A1 without a statement profile
    outcome = pack.sync.synchronize_order(order("SO-1", account("A1", statementProfile=None)))["customers"][0]

    # Then it matches CCB's customer: CREATED, nothing changed, CCB's statement kept
    assert outcome["action"] == "CREATED"
    assert pack.changes_sent() == []
    assert pack.ccb.customer(made["ccbPersonId"]).statement is not None


def test_the_schedule_gives_up_every_synchronization_begun_before_the_bound_by_its_own_clock(
    pack: Pack, caplog: pytest.LogCaptureFixture
) -> None:
    # Given A1 and A2 synchronizing since two hours ago (the bound is an hour), A3 since ten minutes ago
    now = datetime.now(UTC)
    for siebel_id, since in (("A1", now - timedelta(hours=2)), ("A2", now - timedelta(hours=2)), ("A3", now - timedelta(minutes=10))):
        pack.table.put_item(
            Item={
                "pk": f"CUSTOMER#SEBL#{siebel_id}",
                "synchronized": False,
                "synchronizing": True,
                "version": 0,
                "synchronizingWait": "CUSTOMER#SYNCHRONIZING",
                "synchronizingSince": timestamp(since),
            }
        )

    # When the schedule runs (its clock now)
    outcome = end_overdue_synchronizations(pack.store)

    # Then A1 and A2 are given up, counted together, each logged; A3 still synchronizing
    assert outcome == {"expired": 2}
    assert counted("CustomerSynchronizationsExpired") == [2.0]
    gave_up = "customer synchronization given up: its order did not complete; Siebel sends the order again"
    assert sorted(logged(caplog, gave_up, "siebelAccountId", "boundSeconds")) == [("WARNING", "A1", 3600), ("WARNING", "A2", 3600)]
    assert all(since for *_, since in logged(caplog, gave_up, "synchronizingSince"))
    still = pack.store.get("A3")
    assert still is not None
    assert still.synchronizing


def test_an_imported_customers_first_update_that_loses_the_race_to_record_gives_ccb_the_winners_image_again(pack: Pack) -> None:
    # Given an imported customer whose first update another delivery recorded (name Ada King) after this one read it
    person_id, account_id = made_by_oracles_pack(pack.ccb, "LEGACY-1")
    pack.import_links("A1", person_id, account_id)
    pack.sync.apply_update(message("A1", "U-2", changed=LATER + timedelta(hours=1), name="Ada King"))
    pack.ccb.received.clear()

    # When this delivery, having read no record, gives CCB its own change and records it
    with pytest.raises(ConcurrentChange):
        pack.sync._apply_first(
            CustomerState(siebelAccountId="A1"),
            (person_id, account_id),
            {"name": timestamp(LATER)},
            CcbCustomerChange.model_validate({"person": {"name": "Ada Byron"}}),
        )

    # Then CCB got its change, then the recorded winner's whole image again: it ends as recorded
    assert pack.changes_sent() == [["person"], ["account", "addresses", "billRoute", "contacts", "person"]]
    assert pack.ccb.customer(person_id).person.name == "Ada King"


def test_an_order_that_loses_the_race_to_record_is_a_conflict_after_ccb_is_given_the_winners_image_again(pack: Pack) -> None:
    # Given A1 synchronized, and another writer recording it while this order's change is at CCB
    person_id = pack.sync.synchronize_order(order("SO-1", account("A1")))["customers"][0]["ccbPersonId"]
    original = pack.ccb.handle

    def another_writer_records(method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        if method == "PUT":
            pack.table.update_item(
                Key={"pk": "CUSTOMER#SEBL#A1"}, UpdateExpression="SET version = version + :one", ExpressionAttributeValues={":one": 1}
            )
        return original(method, path, body, headers)

    pack.ccb.handle = another_writer_records  # type: ignore[method-assign]
    pack.ccb.received.clear()

    # When an order changes A1's name
    with pytest.raises(ConcurrentChange) as lost:
        pack.sync.synchronize_order(order("SO-2", account("A1", name="Ada King"), submitted=LATER))

    # Then it is a 409 (the caller retries), and CCB got this order's change, then the recorded image again
    assert lost.value.status == 409
    assert pack.changes_sent()[0] == ["person"]
    assert pack.changes_sent()[1] == ["account", "addresses", "billRoute", "contacts", "person", "statement"]
    assert pack.ccb.customer(person_id).person.name == "Ada Lovelace"


def test_a_new_customer_recorded_by_another_writer_first_is_a_conflict_after_ccb_is_given_the_winners_image(pack: Pack) -> None:
    # Given another writer recording A1 (with another name) as soon as this order's create reaches CCB
    original = pack.ccb.handle

    def another_writer_records(method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        reply = original(method, path, body, headers)
        if method == "POST":
            made = json.loads(reply.body)
            image = CcbCustomerIn.model_validate({**json.loads(body), "person": {"name": "Ada King"}})
            pack.store.save(CustomerState(siebelAccountId="A1", ccbPersonId=made["personId"], ccbAccountId=made["accountId"], image=image))
        return reply

    pack.ccb.handle = another_writer_records  # type: ignore[method-assign]

    # When the order for A1 records what it made
    with pytest.raises(ConcurrentChange):
        pack.sync.synchronize_order(order("SO-1", account("A1")))

    # Then CCB is given the winner's recorded image again
    assert pack.changes_sent() == [["account", "addresses", "billRoute", "contacts", "person", "statement"]]
    assert pack.ccb.customer(pack.ccb.by_siebel_id["A1"]).person.name == "Ada King"
