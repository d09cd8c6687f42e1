"""The reads MD-12, MD-14 and MD-15 make at MDM (``packs/meter_data/billing/usage``): what each asks, checked against
MDM's usage services as the MDM simulator holds their contract, in this process (its ``handle``, no socket), and
how a read is made: at MDM, within the route's budget, tried once more when MDM was down, its refusal a 422 naming the
field of the hub's request it concerns."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from localhub.simulators import mdm_usage
from localhub.simulators.mdm import MdmSimulator
from utilhub.packs.meter_data.billing import usage
from utilhub.platform.budget import TimeBudget
from utilhub.platform.connectors import TargetRejected, TargetResponse, TargetUnavailable
from utilhub.platform.problems import Problem
from utilhub.platform.reasons import target_refusal


class SimulatedMdm:
    """MDM as the hub's connector reaches it: each call answered by the MDM simulator, a refusal (4xx) raised as the
    connector raises it; ``down`` calls first answered as an outage."""

    system = "MDM"

    def __init__(self, down: int = 0) -> None:
        self.simulator = MdmSimulator()
        self.down = down
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, body: bytes | None = None, **_: Any) -> TargetResponse:
        self.calls.append((method, path, json.loads(body) if body is not None else None))
        if self.down:
            self.down -= 1
            raise TargetUnavailable("MDM answered 503")
        reply = self.simulator.handle(method, f"/{path}", body or b"", {})
        if reply.status >= 400:
            raise TargetRejected(reply.status, target_refusal(reply.status, reply.body, reply.content_type))
        return TargetResponse(reply.status, reply.content_type, reply.body)


@pytest.fixture
def mdm(monkeypatch: pytest.MonkeyPatch) -> SimulatedMdm:
    """The MDM the billing points read from; they have no connector to any other system."""
    simulated = SimulatedMdm()
    monkeypatch.setattr(usage, "connector_for", lambda system: {"MDM": simulated}[system])
    return simulated


def simulator_answer(read: usage.MdmRead) -> Any:
    """What MDM's usage services answer ``read`` (as the simulator holds their contract): its status and JSON."""
    body = json.dumps(read.body).encode() if read.body is not None else b""
    reply = MdmSimulator().handle(read.method, f"/{read.path}", body, {})
    return reply.status, json.loads(reply.body)


# ------------------------------------------------------------------------------------ what each point asks


def test_md12_asks_mdm_for_the_sa_period_and_intervals_only() -> None:
    # Given an MD-11 usage request's determinants, with its id and intervals
    request = usage.BillDeterminantsIn.model_validate(
        {"saId": "SA-00009", "periodStart": "2026-11-02", "periodEnd": "2026-11-03", "usageRequestId": "UR-1", "includeIntervals": True}
    )

    # When the read at MDM is made of it
    read = usage.determinants_read(request)

    # Then it posts the SA, the period and the intervals wanted (the usage request's id stays with the hub), and a
    # refusal is about the period
    assert read == usage.MdmRead(
        "POST",
        "usage/bill-determinants",
        {"saId": "SA-00009", "periodStart": "2026-11-02", "periodEnd": "2026-11-03", "includeIntervals": True},
        refused="#/periodEnd",
    )
    # and MDM answers it, its answer answering the request
    status, answer = simulator_answer(read)
    assert status == 200
    answered = usage.determinants_answer(request, answer)
    assert (answered["saId"], answered["uom"], len(answered["intervals"])) == ("SA-00009", "KWH", 96)


def test_md15_asks_mdm_for_the_usage_as_requested_without_what_was_not_given() -> None:
    # Given a rate comparison without a bill period end, and a bill-to-date with one
    comparison = usage.UsageIn.model_validate(
        {"saId": "SA-00005", "periodStart": "2026-11-01", "periodEnd": "2026-11-03", "ratePlans": ["RES-TOU", "RES-FLAT"]}
    )
    bill_to_date = usage.UsageIn.model_validate(
        {
            "saId": "SA-G0007",
            "periodStart": "2026-11-01",
            "periodEnd": "2026-11-11",
            "ratePlans": ["GAS-RES"],
            "billPeriodEnd": "2026-12-01",
        }
    )

    # Then each posts what was given, a refusal being about the rate plans
    assert usage.usage_read(comparison) == usage.MdmRead(
        "POST",
        "usage/usage",
        {"saId": "SA-00005", "periodStart": "2026-11-01", "periodEnd": "2026-11-03", "ratePlans": ["RES-TOU", "RES-FLAT"]},
        refused="#/ratePlans",
    )
    assert usage.usage_read(bill_to_date).body == {
        "saId": "SA-G0007",
        "periodStart": "2026-11-01",
        "periodEnd": "2026-11-11",
        "ratePlans": ["GAS-RES"],
        "billPeriodEnd": "2026-12-01",
    }
    # and MDM's answers answer them: the comparison under both plans, the gas SA's estimate to the end of its bill period
    for request in (comparison, bill_to_date):
        status, answer = simulator_answer(usage.usage_read(request))
        assert status == 200
        answered = usage.usage_answer(request, answer)
        assert sorted(c["ratePlan"] for c in answered["comparison"]) == sorted(request.ratePlans)
    assert usage.usage_answer(bill_to_date, simulator_answer(usage.usage_read(bill_to_date))[1])["estimate"]["periodEnd"] == "2026-12-01"


def test_md14_asks_for_the_register_as_one_path_segment_and_the_time_with_its_offset() -> None:
    # Given a time with an offset, and a register id holding a slash
    read_at = datetime(2026, 6, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))

    # Then the time is in the query, its offset escaped, and the register cannot reach another path
    assert usage.boundaries_read("R-00001", read_at) == usage.MdmRead(
        "GET", "usage/registers/R-00001/read-boundaries?readAt=2026-06-01T01%3A00%3A00%2B01%3A00", None, refused="#/readAt"
    )
    assert usage.boundaries_read("R/1", read_at).path.startswith("usage/registers/R%2F1/read-boundaries?")
    # and MDM answers the read
    status, answer = simulator_answer(usage.boundaries_read("R-00001", read_at))
    assert status == 200
    assert answer["low"] <= answer["estimate"] <= answer["high"]


# ------------------------------------------------------------------------------------ how a read is made


def test_md12_answers_mdm_s_determinants_in_ccb_s_units(mdm: SimulatedMdm) -> None:
    # Given a request for a gas SA's determinants with intervals
    request = usage.BillDeterminantsIn.model_validate(
        {"saId": "SA-G0001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03", "includeIntervals": True}
    )

    # When MD-12 answers it
    answered = usage.bill_determinants(request)

    # Then it asked MDM once and answers its determinants in CCB's unit, a total only
    assert [call[:2] for call in mdm.calls] == [("POST", "usage/bill-determinants")]
    expected = mdm_usage.kwh(mdm_usage.usage("SA-G0001", date(2026, 11, 2), date(2026, 11, 3), service_type=mdm_usage.GAS).total_wh)
    assert (answered["serviceType"], answered["uom"]) == ("GAS", "THERM")
    assert answered["determinants"] == [{"uom": "THERM", "touPeriod": "TOTAL", "quantity": float(expected)}]
    assert len(answered["intervals"]) == 24


def test_a_read_is_tried_once_more_when_mdm_was_down(mdm: SimulatedMdm) -> None:
    # Given an MDM down for the first call
    mdm.down = 1

    # When MD-15 reads (a POST, which only reads)
    answered = usage.usage(usage.UsageIn.model_validate({"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03"}))

    # Then the second try answers
    assert len(mdm.calls) == 2
    assert answered["saId"] == "SA-00001"


def test_mdm_down_twice_is_a_502(mdm: SimulatedMdm) -> None:
    mdm.down = 2
    request = usage.BillDeterminantsIn.model_validate({"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03"})
    with pytest.raises(Problem) as problem:
        usage.bill_determinants(request)
    assert (problem.value.status, problem.value.detail) == (502, "MDM answered an error: MDM answered 503")


def test_a_read_whose_budget_is_spent_is_a_504_without_calling_mdm(mdm: SimulatedMdm) -> None:
    # Given a route's budget already spent by its earlier calls
    spent = TimeBudget(seconds=0)

    # When MD-12 reads within it
    request = usage.BillDeterminantsIn.model_validate({"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03"})
    with pytest.raises(Problem) as problem:
        usage.bill_determinants(request, budget=spent)

    # Then it is a gateway timeout, and MDM was not called
    assert problem.value.status == 504
    assert mdm.calls == []


def test_a_rate_plan_mdm_does_not_bill_under_is_a_422_naming_the_rate_plans(mdm: SimulatedMdm) -> None:
    # Given a rate comparison for a gas SA under an electric rate plan
    request = usage.UsageIn.model_validate(
        {"saId": "SA-G0001", "periodStart": "2026-11-01", "periodEnd": "2026-11-02", "ratePlans": ["RES-FLAT"]}
    )

    # When MD-15 asks MDM, which refuses it
    with pytest.raises(Problem) as problem:
        usage.usage(request)

    # Then the caller is told which field of its request MDM refused
    assert (problem.value.status, [e.pointer for e in problem.value.errors]) == (422, ["#/ratePlans"])
    assert len(mdm.calls) == 1  # a refusal is not tried again


def test_md14_answers_mdm_s_boundaries_and_a_register_mdm_does_not_hold_is_a_404(mdm: SimulatedMdm) -> None:
    # Given register R-00001 read at the start of June, and R-77 that MDM does not hold
    read_at = datetime(2026, 6, 1, tzinfo=UTC)

    # When MD-14 answers for each
    answered = usage.read_boundaries("R-00001", read_at)
    with pytest.raises(Problem) as problem:
        usage.read_boundaries("R-77", read_at)

    # Then R-00001's estimate is MDM's, within its band, and R-77 is not found
    expected = mdm_usage.read_boundaries("R-00001", read_at)
    assert answered == {
        "registerId": "R-00001",
        "readAt": "2026-06-01T00:00:00Z",
        "uom": "KWH",
        "estimate": float(expected["estimate"]),
        "low": float(expected["low"]),
        "high": float(expected["high"]),
    }
    assert problem.value.status == 404
