"""Canonical data of the CCB entities synchronized to DACS (the ``data`` of a DACS sync request and
the lines of the DA-01 source extract).

The contract of ``POST /dacs/sync-requests`` is CCB's (:mod:`utilhub.syncrequests.ccb_data`), with what a DACS record needs: ids are id-shaped (they become
the records' external ids), and a metered service belongs to a contact in DACS, so a DACS
SERVICE_AGREEMENT requires its ``personId`` (the account's main customer). Other fields are typed
when present and kept when unknown.
"""

from __future__ import annotations

from pydantic import Field

from utilhub.packs.dacs.records import ExternalId
from utilhub.syncrequests.ccb_data import CcbData, CcbPersonData, CcbServiceAgreementData, CcbServicePointData


class DacsPersonData(CcbPersonData):
    """PERSON: a CCB person, a DACS contact."""


class DacsServicePointData(CcbServicePointData):
    """SERVICE_POINT: a CCB service point, a DACS metered service point."""

    premiseId: ExternalId


class DacsServiceAgreementData(CcbServiceAgreementData):
    """SERVICE_AGREEMENT: a CCB SA, a DACS metered service of a contact over its service points."""

    accountId: ExternalId
    servicePointIds: list[ExternalId] = Field(min_length=1, max_length=100)
    personId: ExternalId


ENTITY_MODELS: dict[str, type[CcbData]] = {
    "PERSON": DacsPersonData,
    "SERVICE_POINT": DacsServicePointData,
    "SERVICE_AGREEMENT": DacsServiceAgreementData,
}
