"""Which CCB entities DACS takes: one rule for the initial synchronization (DA-01) and the incremental one (DA-02).

Oracle's integration extracts "the eligible entities" and creates a sync request when "an eligible entity is
modified" (seed 001), without saying more; the rule is DA-01's: a service agreement is eligible when its status is
one of the eligible statuses (``UTILHUB_DACS_ELIGIBLE_SA_STATUSES``, the template parameter
``DacsEligibleAgreementStatuses``, ``ACTIVE`` by default; compared without regard to case); a person is eligible
when one of their agreements is, and a service point when an eligible agreement serves it.

DA-01 holds all three (its source line is a person with their agreements and service points). DA-02's request for a
SERVICE_AGREEMENT carries its status, and one that is not eligible is refused at intake (no sync request is created,
as CCB creates none for an entity that is not eligible); a PERSON's or SERVICE_POINT's request carries no agreements,
so it is taken as CCB sends it."""

from __future__ import annotations

from pydantic import BaseModel

from utilhub.platform.settings import get_settings
from utilhub.syncrequests.model import DataRefusal


def eligible_statuses(setting: str | None = None) -> frozenset[str]:
    """The agreement statuses DACS takes, from ``setting`` (comma-separated) or this function's settings."""
    text = get_settings().dacs.dacs_eligible_sa_statuses if setting is None else setting
    return frozenset(status.strip().upper() for status in text.split(",") if status.strip())


def agreement_eligible(status: str | None, statuses: frozenset[str]) -> bool:
    """Whether a service agreement of ``status`` goes to DACS."""
    return status is not None and status.strip().upper() in statuses


def ineligible_agreement(data: BaseModel) -> DataRefusal | None:
    """DA-02's intake rule for a SERVICE_AGREEMENT (its validated data): why DACS does not take it, or None."""
    statuses = eligible_statuses()
    status = getattr(data, "status", None)
    if agreement_eligible(status, statuses):
        return None
    shown = "no status" if status is None else f"status {status}"
    return DataRefusal("status", f"a service agreement with {shown} is not eligible for DACS (eligible: {', '.join(sorted(statuses))})")
