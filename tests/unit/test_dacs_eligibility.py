"""DACS's eligibility rule (utilhub.packs.dacs.eligibility): one rule, configurable, for DA-01's records and DA-02's
intake. Pure: no AWS, no sockets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from utilhub.packs.dacs.eligibility import agreement_eligible, eligible_statuses, ineligible_agreement
from utilhub.packs.dacs.initial import SourcePerson, eligible_records
from utilhub.packs.dacs.model import DacsServiceAgreementData
from utilhub.packs.dacs.sync import FLOW
from utilhub.platform import wiring

CHANGED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC).isoformat()


@pytest.fixture
def pending_start_eligible(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A deployment whose DacsEligibleAgreementStatuses is "ACTIVE,PENDING_START"."""
    monkeypatch.setenv("UTILHUB_DACS_ELIGIBLE_SA_STATUSES", "ACTIVE, pending_start")
    wiring.reset()
    yield
    monkeypatch.delenv("UTILHUB_DACS_ELIGIBLE_SA_STATUSES")
    wiring.reset()


def source(*statuses: str) -> SourcePerson:
    agreements = [
        {"saId": f"SA-{n}", "changedAt": CHANGED, "status": status, "accountId": "AC-1", "servicePointIds": [f"SP-{n}"]}
        for n, status in enumerate(statuses)
    ]
    points = [{"spId": f"SP-{n}", "changedAt": CHANGED, "premiseId": f"PR-{n}"} for n in range(len(statuses))]
    return SourcePerson.model_validate(
        {"personId": "P-1", "changedAt": CHANGED, "person": {"name": "Ada"}, "serviceAgreements": agreements, "servicePoints": points}
    )


def agreement(status: str | None) -> DacsServiceAgreementData:
    return DacsServiceAgreementData.model_validate({"accountId": "AC-1", "personId": "P-1", "servicePointIds": ["SP-1"], "status": status})


def test_active_is_the_default_and_statuses_compare_without_case() -> None:
    assert eligible_statuses() == frozenset({"ACTIVE"})
    assert eligible_statuses(" active ,Pending_Start,") == frozenset({"ACTIVE", "PENDING_START"})
    assert agreement_eligible("Active", frozenset({"ACTIVE"}))
    assert not agreement_eligible("CLOSED", frozenset({"ACTIVE"}))
    assert not agreement_eligible(None, frozenset({"ACTIVE"}))


def test_da01_writes_an_eligible_person_with_its_eligible_agreements_and_their_service_points_only() -> None:
    # Given a person with an active and a closed agreement, each serving its own service point
    records = list(eligible_records(source("ACTIVE", "CLOSED"), eligible_statuses("ACTIVE")))
    # Then the contact, the active agreement's service point and the active agreement are written, nothing of the closed one
    assert [(r.kind.value, r.externalReferenceId) for r in records] == [
        ("CONTACT", "P-1"),
        ("METERED_SERVICE_POINT", "SP-0"),
        ("METERED_SERVICE", "SA-0"),
    ]
    # And a person whose agreements are all closed is not written at all
    assert list(eligible_records(source("CLOSED"), eligible_statuses("ACTIVE"))) == []


def test_da01_follows_the_configured_statuses() -> None:
    records = list(eligible_records(source("PENDING_START", "CLOSED"), eligible_statuses("ACTIVE,PENDING_START")))
    assert [r.externalReferenceId for r in records] == ["P-1", "SP-0", "SA-0"]


@pytest.mark.parametrize(("status", "shown"), [("CLOSED", "status CLOSED"), ("pending_start", "status pending_start"), (None, "no status")])
def test_da02_refuses_an_agreement_that_is_not_eligible_at_intake_naming_its_status(status: str | None, shown: str) -> None:
    spec = FLOW.spec("SERVICE_AGREEMENT")
    assert spec is not None
    refusal = spec.refusal(agreement(status))
    assert refusal is not None
    assert (refusal.field, refusal.reason) == ("status", f"a service agreement with {shown} is not eligible for DACS (eligible: ACTIVE)")
    assert spec.refusal(agreement("active")) is None


@pytest.mark.usefixtures("pending_start_eligible")
def test_both_places_follow_the_deployment_setting() -> None:
    # Given a deployment that also takes PENDING_START agreements
    # Then DA-02's intake takes one, and DA-01 writes one (its InitialSync reads the same setting)
    assert ineligible_agreement(agreement("PENDING_START")) is None
    assert ineligible_agreement(agreement("CLOSED")) is not None
    assert [r.externalReferenceId for r in eligible_records(source("PENDING_START"), eligible_statuses())] == ["P-1", "SP-0", "SA-0"]
