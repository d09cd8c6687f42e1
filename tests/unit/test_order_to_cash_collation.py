"""The collation rules of Oracle's pack for OC-01, as pure functions (no AWS, no BRM)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import sample_event
from utilhub.packs.order_to_cash.collation import collate, why_ignored
from utilhub.packs.order_to_cash.model import AccountRef, FulfillmentOrderIn, OrderLine
from utilhub.packs.order_to_cash.orders import execution_name
from utilhub.packs.order_to_cash.workflow import OrderRejected, run_step
from utilhub.platform.problems import Problem


def full_line(line_id: str = "L1", sa: str = "SA-1", ba: str = "BA-1", bp: str = "BP-1", **extra: Any) -> dict[str, Any]:
    return {
        "lineId": line_id,
        "action": "ADD",
        "billingType": "Service Bundle",
        "serviceAccount": {"id": sa},
        "billingAccount": {"id": ba},
        "billingProfile": {"id": bp},
        **extra,
    }


def order(*lines: dict[str, Any]) -> FulfillmentOrderIn:
    return FulfillmentOrderIn.model_validate({"orderId": "O-1", "revision": 1, "lines": list(lines)})


@pytest.mark.parametrize("action", ["ADD", "UPDATE", "MOVE-ADD", "add", "move-add"])
def test_add_update_and_move_add_are_processed(action: str) -> None:
    assert why_ignored(OrderLine.model_validate(full_line(action=action))) is None


@pytest.mark.parametrize(
    ("action", "words"), [("DELETE", "nothing is deleted"), ("NONE", "no change"), ("-", "no change"), ("SUSPEND", "not processed")]
)
def test_other_actions_are_ignored_with_their_reason(action: str, words: str) -> None:
    reason = why_ignored(OrderLine.model_validate(full_line(action=action)))
    assert reason is not None
    assert words in reason


@pytest.mark.parametrize("billing_type", ["Service Bundle", "Item", "Subscription", "Discount", "SERVICE_BUNDLE", "service  bundle"])
def test_full_billing_types_bring_all_three(billing_type: str) -> None:
    plan = collate(order(full_line(billingType=billing_type)))
    assert plan.processedLines[0].brings == ["serviceAccount", "billingAccount", "billingProfile"]
    assert (
        [a.account.id for a in plan.billToAccounts],
        [s.account.id for s in plan.serviceAccounts],
        [p.profile.id for p in plan.billingProfiles],
    ) == (["BA-1"], ["SA-1"], ["BP-1"])


def test_promotion_brings_the_billing_account_only() -> None:
    plan = collate(
        order(
            {
                "lineId": "L1",
                "action": "ADD",
                "productType": "Promotion",
                "billingAccount": {"id": "BA-1"},
                "serviceAccount": {"id": "SA-1"},
            }
        )
    )
    assert plan.processedLines[0].brings == ["billingAccount"]
    assert (len(plan.serviceAccounts), len(plan.billingProfiles)) == (0, 0)


def test_billing_type_wins_over_promotion_product_type() -> None:
    plan = collate(order(full_line(productType="Promotion")))
    assert plan.processedLines[0].brings == ["serviceAccount", "billingAccount", "billingProfile"]


def test_other_lines_are_ignored() -> None:
    plan = collate(order(full_line(billingType="One-Time Charge", productType="Installation")))
    assert plan.processedLines == []
    assert "bring no customer data" in plan.ignoredLines[0].reason


def test_service_account_equal_to_bill_to_account_is_no_subordinate() -> None:
    plan = collate(order(full_line(sa="BA-1")))
    assert plan.serviceAccounts == []


def test_accounts_and_profiles_are_collated_once_in_order() -> None:
    plan = collate(order(full_line("L1", "SA-1", "BA-2"), full_line("L2", "SA-2", "BA-1"), full_line("L3", "SA-1", "BA-2")))
    assert [a.account.id for a in plan.billToAccounts] == ["BA-2", "BA-1"]
    assert [s.account.id for s in plan.serviceAccounts] == ["SA-1", "SA-2"]


def test_prior_billing_account_flags_a_hierarchy_change() -> None:
    plan = collate(order(full_line(action="UPDATE", priorValues={"billingAccountId": "BA-0"})))
    assert plan.serviceAccounts[0].priorBillToId == "BA-0"
    unchanged = collate(order(full_line(action="UPDATE", priorValues={"billingAccountId": "BA-1"})))
    assert unchanged.serviceAccounts[0].priorBillToId is None


def test_one_billing_profile_in_two_billing_systems_is_refused() -> None:
    with pytest.raises(Problem) as refused:
        collate(order(full_line("L1", billingSystemId="BRM1"), full_line("L2", sa="SA-2", billingSystemId="BRM2")))
    assert refused.value.status == 422
    assert "different billing systems (BRM1, BRM2)" in refused.value.detail


def test_ignored_lines_do_not_count_for_the_billing_system_rule() -> None:
    plan = collate(order(full_line("L1", billingSystemId="BRM1"), full_line("L2", action="DELETE", billingSystemId="BRM2")))
    assert [line.lineId for line in plan.processedLines] == ["L1"]


def test_a_processed_line_without_its_accounts_is_refused() -> None:
    line = full_line()
    del line["serviceAccount"]
    with pytest.raises(Problem) as refused:
        collate(order(line))
    assert refused.value.errors[0].pointer == "#/lines/0/serviceAccount"


def test_execution_name_is_stable_and_allowed() -> None:
    assert execution_name("ORD-1", 2) == "ORD-1-r2"
    odd = execution_name("ORD:1.x", 2)
    assert odd == execution_name("ORD:1.x", 2)
    assert odd != execution_name("ORD_1_x", 2)
    assert all(c.isalnum() or c in "-_" for c in odd)
    assert len(odd) <= 80


def kept(submitted: FulfillmentOrderIn) -> Any:
    """The order the hub keeps, as a step reads it by its key (the table read is the integration tests')."""

    def order_of(order_id: str, revision: int) -> FulfillmentOrderIn:
        assert (order_id, revision) == (submitted.orderId, submitted.revision)
        return submitted

    return order_of


SAMPLE_ORDER = FulfillmentOrderIn.model_validate_json(sample_event("order_to_cash/fulfillment_orders/submit-order.json")["body"])


def test_order_steps_sample_events_collate_and_summarize() -> None:
    # the sample events of functions.order_to_cash.order_steps.app: each names the sample order by its key
    plan = run_step(sample_event("order_to_cash/order_steps/collate.json"), kept(SAMPLE_ORDER))
    # the collation answers the BRM work by ids only: no name of the order's accounts is carried on
    assert [(a["task"], a["sourceId"]) for a in plan["billToAccounts"]] == [("ensureAccount", "BA-100")]
    assert [(a["task"], a["sourceId"]) for a in plan["serviceAccounts"]] == [("ensureServiceAccount", "SA-100")]
    assert "Ada Lovelace" not in json.dumps(plan)
    summary = run_step(sample_event("order_to_cash/order_steps/summarize.json"), kept(SAMPLE_ORDER))
    assert [line["lineId"] for line in summary["processedLines"]] == ["L1", "L2", "L3"]
    assert {(o["type"], o["sourceId"]) for o in summary["created"]} == {
        ("account", "BA-100"),
        ("account", "SA-100"),
        ("billinfo", "BP-100"),
        ("payinfo", "BP-100"),
    }
    assert summary["hierarchy"][0]["parent"] == "BA-100"


def test_collate_step_turns_a_rule_breach_into_order_rejected() -> None:
    event = sample_event("order_to_cash/order_steps/collate.json")
    breach = SAMPLE_ORDER.model_copy(deep=True)
    breach.lines[1].billingSystemId = "BRM2"
    with pytest.raises(OrderRejected, match="different billing systems"):
        run_step(event, kept(breach))


def test_an_update_line_without_prior_values_is_refused_naming_them() -> None:
    # Given an UPDATE line (Table 10-1 expects its prior value fields) with none, next to a valid one
    with pytest.raises(Problem) as refused:
        collate(order(full_line("L1", action="UPDATE", priorValues={"billingAccountId": "BA-0"}), full_line("L2", action="UPDATE")))
    # Then the order is a 422 naming the line's priorValues and the attributes it could give
    assert refused.value.status == 422
    assert [e.pointer for e in refused.value.errors] == ["#/lines/1/priorValues"]
    assert "serviceAccountId, billingAccountId, billingProfileId" in refused.value.errors[0].detail


def test_a_promotion_update_needs_the_prior_billing_account_only() -> None:
    promotion = {"lineId": "P1", "action": "UPDATE", "productType": "Promotion", "billingAccount": {"id": "BA-1"}}
    with pytest.raises(Problem) as refused:
        collate(order({**promotion, "priorValues": {"billingProfileId": "BP-0"}}))  # a prior value the line does not bring
    assert "(billingAccountId)" in refused.value.errors[0].detail
    assert collate(order({**promotion, "priorValues": {"billingAccountId": "BA-0"}})).processedLines[0].lineId == "P1"


def test_a_move_add_line_without_prior_values_is_processed() -> None:
    # MOVE-ADD expects prior values only "for values that are changing from an existing asset"
    plan = collate(order(full_line(action="MOVE-ADD")))
    assert [p.action for p in plan.processedLines] == ["MOVE-ADD"]


def refusal(*lines: dict[str, Any]) -> list[tuple[str, str]]:
    """The fields a refused order names, each with its reason."""
    with pytest.raises(Problem) as refused:
        collate(order(*lines))
    assert refused.value.status == 422
    return [(e.pointer, e.detail) for e in refused.value.errors]


def test_one_service_account_billed_to_two_accounts_on_one_order_is_refused_naming_both_lines() -> None:
    # Given SA-1 billed to BA-1 on L1 and to BA-2 on L3 (L2 is another service account)
    errors = refusal(full_line("L1", "SA-1", "BA-1"), full_line("L2", "SA-2", "BA-1"), full_line("L3", "SA-1", "BA-2", bp="BP-2"))

    # Then the later line is refused, naming both accounts and the first line
    assert errors == [
        (
            "#/lines/2/billingAccount/id",
            "service account SA-1 is billed to BA-1 on line L1 and to BA-2 here; it can have one paying parent",
        )
    ]


def test_a_paying_hierarchy_that_goes_round_in_a_circle_is_refused() -> None:
    # Given A paid for by B, and B paid for by A
    errors = refusal(full_line("L1", "SA-A", "SA-B"), full_line("L2", "SA-B", "SA-A", bp="BP-2"))

    # Then both lines are refused as a cycle
    assert errors == [
        ("#/lines/0/billingAccount/id", "the paying hierarchy would be a cycle through SA-A"),
        ("#/lines/1/billingAccount/id", "the paying hierarchy would be a cycle through SA-B"),
    ]


def test_a_paying_chain_that_ends_is_no_cycle() -> None:
    # Given A paid for by B, B by C, and C paying for itself
    plan = collate(order(full_line("L1", "SA-A", "SA-B"), full_line("L2", "SA-B", "SA-C", bp="BP-2")))

    # Then the order is collated, each service account under its bill-to account
    assert [(s.account.id, s.billToId) for s in plan.serviceAccounts] == [("SA-A", "SA-B"), ("SA-B", "SA-C")]


def test_a_cycle_is_judged_within_one_billing_system() -> None:
    # Given A paid for by B in BRM1, and B paid for by A in BRM2 (two hierarchies, one per billing system)
    plan = collate(
        order(full_line("L1", "SA-A", "SA-B", billingSystemId="BRM1"), full_line("L2", "SA-B", "SA-A", bp="BP-2", billingSystemId="BRM2"))
    )

    # Then neither goes round: the order is collated
    assert [(s.billingSystemId, s.account.id) for s in plan.serviceAccounts] == [("BRM1", "SA-A"), ("BRM2", "SA-B")]


def test_an_account_moved_back_to_paying_for_itself_is_no_cycle() -> None:
    # Given an UPDATE that makes SA-1 pay for itself again (it was paid for by BA-0)
    plan = collate(order(full_line(sa="BA-1", action="UPDATE", priorValues={"billingAccountId": "BA-0"})))

    # Then it is collated as a hierarchy change back to itself
    assert [(s.account.id, s.billToId, s.priorBillToId) for s in plan.serviceAccounts] == [("BA-1", "BA-1", "BA-0")]


def test_an_update_naming_the_same_bill_to_account_changes_no_hierarchy() -> None:
    # Given an UPDATE line of an account paying for itself, whose prior bill-to account is the same one
    plan = collate(order(full_line(sa="BA-1", action="UPDATE", priorValues={"billingAccountId": "BA-1"})))

    # Then no service account becomes anyone's subordinate
    assert plan.serviceAccounts == []


def test_one_billing_profile_in_two_billing_systems_is_refused_on_each_of_its_lines() -> None:
    # Given BP-1 used for services in BRM1 (L1) and BRM2 (L3), and a line missing its service account (L2)
    missing = full_line("L2", sa="SA-3", bp="BP-3")
    del missing["serviceAccount"]
    errors = refusal(full_line("L1", billingSystemId="BRM1"), missing, full_line("L3", sa="SA-2", billingSystemId="BRM2"))

    # Then every refused field is named: the missing account, and each line of the profile's two systems
    conflict = (
        "billing profile BP-1 is used for services fulfilled in different billing systems (BRM1, BRM2); "
        "a billing profile may be synchronized to one billing system only"
    )
    assert errors == [
        ("#/lines/1/serviceAccount", "required for a Service Bundle line"),
        ("#/lines/0/billingSystemId", conflict),
        ("#/lines/2/billingSystemId", conflict),
    ]


def test_two_billing_profiles_each_in_its_own_billing_system_are_collated() -> None:
    # Given BP-1 in BRM1 and BP-2 in BRM2
    plan = collate(order(full_line("L1", billingSystemId="BRM1"), full_line("L2", sa="SA-2", bp="BP-2", billingSystemId="BRM2")))

    # Then both profiles are ensured, each with its bill-to account
    assert [(p.billingSystemId, p.profile.id, p.billToId, p.billTo) for p in plan.billingProfiles] == [
        ("BRM1", "BP-1", "BA-1", AccountRef(id="BA-1")),
        ("BRM2", "BP-2", "BA-1", AccountRef(id="BA-1")),
    ]


def test_an_update_line_moving_a_billing_profile_names_its_prior_bill_to_account() -> None:
    # Given an UPDATE line whose billing profile's account was BA-0
    plan = collate(order(full_line(action="UPDATE", priorValues={"billingAccountId": "BA-0"})))

    # Then BRM is told to apply the profile's changes and move its /billinfo from BA-0
    [profile] = plan.billingProfiles
    assert (profile.applyChanges, profile.priorBillToId, profile.billToId) == (True, "BA-0", "BA-1")


def test_every_line_after_an_ignored_or_refused_line_is_still_judged() -> None:
    # Given an ignored line, then a line missing its service account, then two lines each missing an account
    missing_sa, missing_ba = full_line("L2"), full_line("L3", sa="SA-3")
    del missing_sa["serviceAccount"]
    del missing_ba["billingAccount"]
    errors = refusal(full_line("L1", action="DELETE"), missing_sa, missing_ba)

    # Then each refused field is named
    assert [pointer for pointer, _ in errors] == ["#/lines/1/serviceAccount", "#/lines/2/billingAccount"]
    # and an ignored line does not stop the lines after it from being processed
    plan = collate(order(full_line("L1", action="DELETE"), full_line("L2")))
    assert ([i.lineId for i in plan.ignoredLines], [p.lineId for p in plan.processedLines]) == (["L1"], ["L2"])


def test_a_missing_account_is_refused_naming_the_product_type_when_there_is_no_billing_type() -> None:
    promotion = {"lineId": "P1", "action": "ADD", "productType": "Promotion"}
    assert refusal(promotion) == [("#/lines/0/billingAccount", "required for a Promotion line")]


def test_ignored_lines_say_why_in_full() -> None:
    delete = why_ignored(OrderLine.model_validate(full_line(action="DELETE")))
    neither = why_ignored(OrderLine.model_validate({"lineId": "L1", "action": "ADD"}))
    assert delete == "DELETE compensation is ignored: nothing is deleted or inactivated in BRM"
    assert neither == (
        "billing type (none) and product type (none) bring no customer data (Service Bundle, Item, Subscription, Discount or Promotion)"
    )


def test_an_add_line_ensures_the_billing_profile_and_changes_nothing_in_brm() -> None:
    # ADD creates what does not exist and changes nothing that does (Table 10-1)
    [profile] = collate(order(full_line())).billingProfiles
    assert (profile.applyChanges, profile.priorBillToId) == (False, None)


def test_an_update_line_whose_prior_bill_to_account_is_the_same_moves_no_billing_profile() -> None:
    # Given an UPDATE line that names its current billing account as the prior one
    [profile] = collate(order(full_line(action="UPDATE", priorValues={"billingAccountId": "BA-1"}))).billingProfiles

    # Then the profile's changes are applied where it is, not moved from another account
    assert (profile.applyChanges, profile.priorBillToId) == (True, None)
