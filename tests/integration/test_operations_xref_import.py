"""The cutover from Oracle's packs (OperationsTransactionsFunction, ``POST /ops/cross-references:import``): Oracle's
XREF_DATA rows imported as CSV become the hub's cross-references; a Siebel account imported so is a synchronized
customer whose updates CU-02 relays to CCB (not IGNORED); an import repeated changes nothing; an id already linked
otherwise is refused, never overwritten; the sample export's rows each get their outcome."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from localhub.hub import ApiResponse, LocalHub
from localhub.simulators.ccb import CcbSimulator
from tests.conftest import EVENTS
from tests.helpers import made_by_oracles_pack
from tests.integration.test_customer_siebel_customers import post_update
from utilhub.platform.xref import CrossReferenceStore, LinkConflict, SystemId

OPS_CLAIMS = {"client_id": "ops", "scope": "utilhub/ops", "token_use": "access"}
CSV = {"content-type": "text/csv"}
HEADER = "XREF_TABLE_NAME,XREF_COLUMN_NAME,ROW_NUMBER,VALUE,IS_DELETED\n"
SAMPLE = EVENTS / "xref_export_sample.csv"


def ccb(hub: LocalHub) -> CcbSimulator:
    simulator = hub.simulators["CCB"]
    assert isinstance(simulator, CcbSimulator)
    return simulator


def export(siebel_id: str, person_id: str, account_id: str, row: int = 1001) -> str:
    return HEADER + "".join(
        f"{table},{column},{row + n},{value},N\n"
        for n, table, pairs in (
            (0, "CUSTOMERPARTY_PARTYID", (("SEBL_01", siebel_id), ("COMMON", f"{row:032X}"), ("OU_CCB_01", person_id))),
            (1, "CUSTOMERPARTY_ACCOUNTID", (("SEBL_01", siebel_id), ("COMMON", f"{row + 1:032X}"), ("OU_CCB_01", account_id))),
        )
        for column, value in pairs
    )


def import_export(hub: LocalHub, text: str, headers: dict[str, str] = CSV, claims: dict[str, Any] | None = OPS_CLAIMS) -> ApiResponse:
    return hub.call_api("POST", "/ops/cross-references:import", body=text, headers=headers, claims=claims)


def ids_of(hub: LocalHub, system: str, entity_id: str, entity_type: str) -> dict[str, str]:
    answer = hub.call_api(
        "GET", "/ops/cross-references", claims=OPS_CLAIMS, query=f"system={system}&id={entity_id}&entityType={entity_type}"
    )
    assert answer.status == 200, answer.body
    return answer.json()["ids"]  # type: ignore[no-any-return]


def test_an_imported_customer_is_synchronized_and_its_siebel_update_reaches_ccb(hub: LocalHub) -> None:
    # Given a customer Oracle's pack made in CCB, and the cross-references of its XREF_DATA exported
    person_id, account_id = made_by_oracles_pack(ccb(hub), "1-XR0001")

    # When an operator imports them (the hub then knows the customer as synchronized), then Siebel sends an update
    imported = import_export(hub, export("1-XR0001", person_id, account_id))
    known = hub.call_api("GET", "/customer/siebel/accounts/1-XR0001", claims={"client_id": "siebel", "scope": "utilhub/customer"})
    update = post_update(hub, "1-XR0001", {"updateId": "U-XR-1", "changedAt": "2099-01-01T10:00:00Z", "name": "Ada King"})
    hub.drain()

    # Then the SEBL and CCB rows are imported (AIA's COMMON ids skipped), the ids are linked both ways
    assert imported.status == 200, imported.body
    report = imported.json()
    assert (report["rows"], report["imported"], report["skipped"], report["refused"], report["entitiesLinked"]) == (6, 4, 2, 0, 2)
    assert [(r["outcome"], r["rows"], r["lines"]) for r in report["reasons"]] == [("skipped", 2, [3, 6])]
    assert ids_of(hub, "CCB", person_id, "PERSON") == {"CCB": person_id, "SEBL": "1-XR0001"}
    assert ids_of(hub, "SEBL", "1-XR0001", "ACCOUNT") == {"SEBL": "1-XR0001", "CCB": account_id}
    expected = {"siebelAccountId": "1-XR0001", "synchronized": True, "ccbPersonId": person_id, "ccbAccountId": account_id}
    assert (known.status, known.json()) == (200, expected)
    # And the update is accepted (not IGNORED) and CCB has the new name, the rest as Oracle's pack left it
    assert update.status == 202, update.body
    assert update.json()["status"] == "ACCEPTED"
    held = ccb(hub).customer(person_id).model_dump()
    assert held["person"] == {"name": "Ada King"}
    assert held["account"]["paymentMethod"] == "DD"
    assert [m["parts"] for m in ccb(hub).received if m["operation"] == "change"] == [["person"]]
    # And the hub now holds the customer as synchronized, its later updates compared with what CCB answered
    state = hub.call_api("GET", "/customer/siebel/accounts/1-XR0001", claims={"client_id": "siebel", "scope": "utilhub/customer"})
    assert state.json() == {"siebelAccountId": "1-XR0001", "synchronized": True, "ccbPersonId": person_id, "ccbAccountId": account_id}
    again = post_update(hub, "1-XR0001", {"updateId": "U-XR-2", "changedAt": "2099-01-01T11:00:00Z", "name": "Ada King"})
    hub.drain()
    assert again.status == 202
    assert [m["parts"] for m in ccb(hub).received if m["operation"] == "change"] == [["person"]]  # unchanged: nothing sent


def test_an_account_not_imported_stays_a_prospect(hub: LocalHub) -> None:
    # Given an import of one customer's person only (no account row)
    person_id, _ = made_by_oracles_pack(ccb(hub), "1-XR0002")
    only_person = HEADER + f"CUSTOMERPARTY_PARTYID,SEBL_01,7,1-XR0002,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,7,{person_id},N\n"
    assert import_export(hub, only_person).status == 200

    # When Siebel sends an update of it
    update = post_update(hub, "1-XR0002", {"updateId": "U-XR-3", "changedAt": "2099-01-01T10:00:00Z", "name": "Someone"})

    # Then it is ignored as a prospect's: CCB's account is not known to the hub
    assert update.status == 200, update.body
    assert update.json()["status"] == "IGNORED"


def test_a_repeated_import_changes_nothing_and_reports_the_rows_already_present(hub: LocalHub) -> None:
    # Given an export imported once
    person_id, account_id = made_by_oracles_pack(ccb(hub), "1-XR0003")
    text = export("1-XR0003", person_id, account_id)
    first = import_export(hub, text).json()

    # When it is imported again
    again = import_export(hub, text)

    # Then nothing is imported the second time: every row is skipped, the mapped ones as already linked
    assert first["imported"] == 4
    assert again.status == 200, again.body
    report = again.json()
    assert (report["imported"], report["skipped"], report["refused"], report["entitiesLinked"]) == (0, 6, 0, 0)
    reasons = {r["reason"]: r["rows"] for r in report["reasons"]}
    assert reasons["already linked (imported before, or linked by the hub)"] == 4
    assert ids_of(hub, "SEBL", "1-XR0003", "PERSON") == {"SEBL": "1-XR0003", "CCB": person_id}


def test_an_id_linked_otherwise_is_refused_with_the_reason_and_never_overwritten(hub: LocalHub) -> None:
    # Given a Siebel account linked to its CCB person
    assert (
        import_export(hub, HEADER + "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-XR0004,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,4000000001,N\n").status
        == 200
    )

    # When an export links it to another CCB person (and links another account right)
    answer = import_export(
        hub,
        HEADER
        + "CUSTOMERPARTY_PARTYID,SEBL_01,2,1-XR0004,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,2,4000000002,N\n"
        + "CUSTOMERPARTY_PARTYID,SEBL_01,3,1-XR0005,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,3,4000000003,N\n",
    )

    # Then that entity's rows are refused, naming the link that holds; the other is imported; the link is unchanged
    assert answer.status == 200, answer.body
    report = answer.json()
    assert (report["imported"], report["refused"]) == (2, 2)
    assert report["reasons"] == [
        {
            "outcome": "refused",
            "reason": "SEBL 1-XR0004 is already linked as PERSON to CCB 4000000001, not 4000000002",
            "rows": 2,
            "lines": [2, 3],
        }
    ]
    assert ids_of(hub, "SEBL", "1-XR0004", "PERSON")["CCB"] == "4000000001"
    assert ids_of(hub, "CCB", "4000000001", "PERSON")["SEBL"] == "1-XR0004"
    lookup = hub.call_api("GET", "/ops/cross-references", claims=OPS_CLAIMS, query="system=CCB&id=4000000002&entityType=PERSON")
    assert lookup.status == 404


def test_the_sample_export_gets_an_outcome_for_every_row(hub: LocalHub) -> None:
    # Given the sample export under events/
    text = SAMPLE.read_text(encoding="utf-8")

    # When it is imported
    answer = import_export(hub, text)

    # Then every data row is imported, skipped or refused, each skip and refusal with its reason
    assert answer.status == 200, answer.body
    report = answer.json()
    assert report["rows"] == len(text.strip().splitlines()) - 1
    assert report["imported"] + report["skipped"] + report["refused"] == report["rows"]
    assert report["imported"] > 0
    assert report["entitiesLinked"] > 0
    reasons = " | ".join(r["reason"] for r in report["reasons"])
    for expected in ("IS_DELETED = Y", "AIA's own id (COMMON)", "CUSTOMERPARTY_ADDRESSID", "BRM_01"):
        assert expected in reasons, reasons


def test_a_customer_of_the_sample_export_is_updated_at_ccb_and_one_whose_row_was_deleted_is_not(hub: LocalHub) -> None:
    # Given the sample export imported (CCB holds the customers Oracle's packs made under the ids it links)
    assert import_export(hub, SAMPLE.read_text(encoding="utf-8")).status == 200

    # When Siebel changes the name of 1-ABC123, and of 1-GHJ789 (whose CCB person row is deleted in the export)
    imported = post_update(hub, "1-ABC123", {"updateId": "U-S-1", "changedAt": "2099-01-01T10:00:00Z", "name": "Katherine G. Johnson"})
    deleted = post_update(hub, "1-GHJ789", {"updateId": "U-S-2", "changedAt": "2099-01-01T10:00:00Z", "name": "Mary Jackson"})
    hub.drain()

    # Then the first reaches CCB's person 2840193756; the second is a prospect's, ignored
    assert (imported.status, imported.json()["status"]) == (202, "ACCEPTED")
    assert ccb(hub).customer("2840193756").person.name == "Katherine G. Johnson"
    assert (deleted.status, deleted.json()["status"]) == (200, "IGNORED")


def test_the_import_takes_csv_from_an_operator_only(hub: LocalHub) -> None:
    text = HEADER + "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-XR0009,N\n"
    # JSON is not an export
    assert import_export(hub, json.dumps({"rows": []}), headers={"content-type": "application/json"}).status == 415
    # another scope is refused, and nothing is linked
    assert import_export(hub, text, claims={"client_id": "siebel", "scope": "utilhub/customer"}).status == 403
    # a header that is not XREF_DATA's is a 422 naming what is missing
    bad = import_export(hub, "TABLE,COLUMN,ROW,VALUE\nA,B,1,C\n")
    assert bad.status == 422, bad.body
    assert "missing XREF_TABLE_NAME" in bad.json()["detail"]


def test_links_written_otherwise_meanwhile_fail_the_transaction_and_keep_the_link(hub: LocalHub) -> None:
    # Given the store the import writes with, and a Siebel account linked to a CCB person after the import read it
    store = CrossReferenceStore(boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"]))
    sebl, ccb_1, ccb_2 = SystemId("SEBL", "1-XR0010"), SystemId("CCB", "4000000010"), SystemId("CCB", "4000000011")
    assert store.links_of([("PERSON", sebl)]) == {("PERSON", sebl): {}}
    store.link("PERSON", sebl, ccb_1)

    # When the import writes what it planned from its read (the same account to another person, and that person back)
    with pytest.raises(LinkConflict):
        store.add_links({("PERSON", sebl): {"CCB": ccb_2.id}, ("PERSON", ccb_2): {"SEBL": sebl.id}})

    # Then nothing of that transaction was written: the link made meanwhile holds, the other person is linked to nothing
    assert store.links_of([("PERSON", sebl), ("PERSON", ccb_2)]) == {("PERSON", sebl): {"CCB": ccb_1.id}, ("PERSON", ccb_2): {}}
    # And links already the same are written again without a conflict
    store.add_links({("PERSON", sebl): {"CCB": ccb_1.id}})


def cross_references(hub: LocalHub, siebel_id: str) -> tuple[dict[str, str], dict[str, str]]:
    return ids_of(hub, "SEBL", siebel_id, "PERSON"), ids_of(hub, "SEBL", siebel_id, "ACCOUNT")


def test_an_order_for_an_imported_customer_ccb_does_not_find_by_siebel_id_updates_it_not_a_new_one(hub: LocalHub) -> None:
    from tests.integration.test_customer_siebel_customers import account, order, post_order

    # Given a customer Oracle's pack made in CCB under another search id, imported as Siebel account 1-XR0031's
    person_id, account_id = made_by_oracles_pack(ccb(hub), "LEGACY-31")
    assert import_export(hub, export("1-XR0031", person_id, account_id)).status == 200

    # When Siebel sends an order for that account (CU-01)
    answer = post_order(hub, order("SO-XR31", account("1-XR0031", name="Ada King")))

    # Then the imported customer is brought up to date, no other is made, and the imported links stand
    assert answer.status == 200, answer.body
    [outcome] = answer.json()["customers"]
    assert (outcome["action"], outcome["ccbPersonId"], outcome["ccbAccountId"]) == ("UPDATED", person_id, account_id)
    assert ccb(hub).customers_created("1-XR0031") == 0
    assert ccb(hub).customer(person_id).model_dump()["person"] == {"name": "Ada King"}
    assert cross_references(hub, "1-XR0031") == ({"SEBL": "1-XR0031", "CCB": person_id}, {"SEBL": "1-XR0031", "CCB": account_id})


def test_an_order_whose_customer_ccb_finds_under_other_ids_than_the_imported_links_is_refused(hub: LocalHub) -> None:
    from tests.integration.test_customer_siebel_customers import account, order, post_order

    # Given Siebel account 1-XR0032 imported as linked to one CCB customer, while CCB finds another under that Siebel id
    person_id, account_id = made_by_oracles_pack(ccb(hub), "LEGACY-32")
    assert import_export(hub, export("1-XR0032", person_id, account_id)).status == 200
    other_person, _ = made_by_oracles_pack(ccb(hub), "1-XR0032")
    before = len(ccb(hub).received)

    # When Siebel sends an order for that account (CU-01)
    answer = post_order(hub, order("SO-XR32", account("1-XR0032")))

    # Then it is refused as a conflict naming both, nothing is changed at CCB, and the imported links stand
    assert answer.status == 409, answer.body
    assert person_id in answer.json()["detail"]
    assert other_person in answer.json()["detail"]
    assert [m for m in list(ccb(hub).received)[before:] if m["operation"] in ("create", "change")] == []
    assert cross_references(hub, "1-XR0032") == ({"SEBL": "1-XR0032", "CCB": person_id}, {"SEBL": "1-XR0032", "CCB": account_id})


def test_an_order_whose_imported_person_has_another_account_at_ccb_is_refused_before_anything_is_marked_or_sent(hub: LocalHub) -> None:
    from tests.integration.test_customer_siebel_customers import account, order, post_order

    # Given Siebel account 1-XR0033 imported as linked to a CCB person and to an account that is not that person's at
    # CCB (another customer's), and CCB not finding any customer by that Siebel id
    person_id, own_account = made_by_oracles_pack(ccb(hub), "LEGACY-33")
    _, other_account = made_by_oracles_pack(ccb(hub), "LEGACY-33B")
    assert import_export(hub, export("1-XR0033", person_id, other_account)).status == 200
    ccb_before = ccb(hub).customer(person_id).model_dump()
    before = len(ccb(hub).received)

    # When Siebel sends an order for that account (CU-01)
    answer = post_order(hub, order("SO-XR33", account("1-XR0033", name="Ada King")))

    # Then it is refused as a conflict naming both accounts, before anything is sent to CCB or recorded: CCB's person is
    # as it was, the customer is not marked synchronizing, and the imported links stand
    assert answer.status == 409, answer.body
    assert own_account in answer.json()["detail"]
    assert other_account in answer.json()["detail"]
    assert [m for m in list(ccb(hub).received)[before:] if m["operation"] in ("create", "change")] == []
    assert ccb(hub).customer(person_id).model_dump() == ccb_before
    table = boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"])
    kept = table.get_item(Key={"pk": "CUSTOMER#SEBL#1-XR0033"}).get("Item", {})
    assert "synchronizing" not in kept, kept
    assert cross_references(hub, "1-XR0033") == ({"SEBL": "1-XR0033", "CCB": person_id}, {"SEBL": "1-XR0033", "CCB": other_account})


def test_an_order_whose_imported_person_ccb_does_not_have_is_refused_before_anything_is_marked_or_sent(hub: LocalHub) -> None:
    from tests.integration.test_customer_siebel_customers import account, order, post_order

    # Given Siebel account 1-XR0034 imported as linked to a CCB person and account CCB does not have
    assert import_export(hub, export("1-XR0034", "9999999934", "9999999935")).status == 200
    before = len(ccb(hub).received)

    # When Siebel sends an order for that account (CU-01)
    answer = post_order(hub, order("SO-XR34", account("1-XR0034")))

    # Then it is refused as a conflict naming the person, nothing is sent to CCB, and nothing is marked
    assert answer.status == 409, answer.body
    assert "9999999934" in answer.json()["detail"]
    assert [m for m in list(ccb(hub).received)[before:] if m["operation"] in ("create", "change")] == []
    table = boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"])
    assert "synchronizing" not in table.get_item(Key={"pk": "CUSTOMER#SEBL#1-XR0034"}).get("Item", {})


def test_an_update_whose_imported_person_has_another_account_at_ccb_changes_nothing_there_and_is_refused_at_once(
    hub: LocalHub,
) -> None:
    from tests.integration.test_operations_dead_letters import depths

    # Given Siebel account 1-XR0035 imported as linked to a CCB person and to an account that is not that person's at
    # CCB (another customer's)
    person_id, own_account = made_by_oracles_pack(ccb(hub), "LEGACY-35")
    _, other_account = made_by_oracles_pack(ccb(hub), "LEGACY-35B")
    assert import_export(hub, export("1-XR0035", person_id, other_account)).status == 200
    ccb_before = ccb(hub).customer(person_id).model_dump()
    before = len(ccb(hub).received)

    # When Siebel sends an update of its name (CU-02) and the queue delivers it
    update = post_update(hub, "1-XR0035", {"updateId": "U-XR-35", "changedAt": "2099-01-01T10:00:00Z", "name": "Ada King"})
    hub.drain()

    # Then the update is accepted, but the delivery reads CCB's person first and stops before writing: CCB's person is
    # as it was (its name not changed), nothing is recorded, and the imported links stand
    assert (update.status, update.json()["status"]) == (202, "ACCEPTED")
    assert [m for m in list(ccb(hub).received)[before:] if m["operation"] in ("create", "change")] == []
    assert ccb(hub).customer(person_id).model_dump() == ccb_before
    table = boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"])
    assert "image" not in table.get_item(Key={"pk": "CUSTOMER#SEBL#1-XR0035"}).get("Item", {})
    assert cross_references(hub, "1-XR0035") == ({"SEBL": "1-XR0035", "CCB": person_id}, {"SEBL": "1-XR0035", "CCB": other_account})
    assert own_account != other_account
    # And no retry can change that: the update is refused at its first try, the operator sees it with its reason, and it
    # is kept in the dead-letter queue (no time has passed for the queue to hand it over again)
    mismatch = (
        f"Siebel account 1-XR0035 is linked to CCB person {person_id} and account {other_account} (imported), "
        f"but CCB person {person_id} has account {own_account}: not synchronized."
    )
    head = hub.call_api("GET", "/ops/transactions/CU-02/1-XR0035%2FU-XR-35", claims=OPS_CLAIMS).json()
    assert (head["state"], head["detailState"], head["reason"]) == ("FAILED", "REFUSED", f"{mismatch[:-1]}; kept in the dead-letter queue")
    assert depths(hub)["customer/updates"] == 1
    sqs = boto3.client("sqs")
    kept = sqs.receive_message(QueueUrl=hub.resources()["CustomerUpdateDeadLetterQueue"], MessageAttributeNames=["All"])["Messages"]
    assert [json.loads(m["Body"])["updateId"] for m in kept] == ["U-XR-35"]
    assert {k: v["StringValue"] for k, v in kept[0]["MessageAttributes"].items()} == {"refusedStatus": "409", "refusedReason": mismatch}


def test_a_refused_update_the_dead_letter_queue_does_not_take_fails_its_try_and_is_journaled_as_failed_tries_are(
    hub: LocalHub,
) -> None:
    from tests.integration.test_operations_dead_letters import settle

    # Given an update CCB contradicts (imported links to another customer's account), and SQS failing the move to the
    # update queue's dead-letter queue (the queue gone: the send answers QueueDoesNotExist, as a denied or throttled one fails)
    person_id, _ = made_by_oracles_pack(ccb(hub), "LEGACY-36")
    _, other_account = made_by_oracles_pack(ccb(hub), "LEGACY-36B")
    assert import_export(hub, export("1-XR0036", person_id, other_account)).status == 200
    sqs = boto3.client("sqs")
    sqs.delete_queue(QueueUrl=hub.resources()["CustomerUpdateDeadLetterQueue"])
    assert post_update(hub, "1-XR0036", {"updateId": "U-XR-36", "changedAt": "2099-01-01T10:00:00Z", "name": "Ada King"}).status == 202

    # When the queue delivers it
    hub.drain()

    # Then the try failed as any other does: the update is journaled retrying with the refusal's reason (not REFUSED,
    # which would say it waits in a dead-letter queue), and it is back in the update queue, not lost
    mismatch = f"CCB person {person_id} has account"
    head = hub.call_api("GET", "/ops/transactions/CU-02/1-XR0036%2FU-XR-36", claims=OPS_CLAIMS).json()
    assert (head["state"], head["detailState"]) == ("IN_FLIGHT", "RETRYING")
    assert head["reason"].startswith("ImportedCustomerMismatch: Siebel account 1-XR0036 is linked to CCB person")
    assert mismatch in head["reason"]
    queued = sqs.get_queue_attributes(QueueUrl=hub.resources()["CustomerUpdateQueue"], AttributeNames=["All"])["Attributes"]
    assert (queued["ApproximateNumberOfMessages"], queued["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")

    # And when every try's move fails so, the queue's last receive is journaled DEAD_LETTERED (SQS moves it there itself)
    settle(hub)
    head = hub.call_api("GET", "/ops/transactions/CU-02/1-XR0036%2FU-XR-36", claims=OPS_CLAIMS).json()
    assert (head["state"], head["detailState"]) == ("FAILED", "DEAD_LETTERED")
    assert head["reason"].startswith("not delivered after 5 tries (ImportedCustomerMismatch: Siebel account 1-XR0036")
    assert head["reason"].endswith("; in the dead-letter queue")
