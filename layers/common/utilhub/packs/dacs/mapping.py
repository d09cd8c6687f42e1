"""CCB entities to DACS records: a person to a contact, a service point to a metered service point,
a service agreement to a metered service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from utilhub.packs.dacs.extract_file import Kind
from utilhub.packs.dacs.model import ENTITY_MODELS, DacsPersonData, DacsServiceAgreementData, DacsServicePointData
from utilhub.packs.dacs.records import ContactRecord, DacsRecord, MeteredServicePointRecord, MeteredServiceRecord, format_timestamp
from utilhub.syncrequests.ccb_data import CcbAddress

KIND_OF_ENTITY: dict[str, Kind] = {
    "PERSON": Kind.CONTACT,
    "SERVICE_POINT": Kind.METERED_SERVICE_POINT,
    "SERVICE_AGREEMENT": Kind.METERED_SERVICE,
}
ENTITY_OF_KIND: dict[Kind, str] = {kind: entity for entity, kind in KIND_OF_ENTITY.items()}


def _address(address: CcbAddress | None) -> dict[str, Any]:
    if address is None:
        return {}
    return {
        "addressLine1": address.line1,
        "addressLine2": address.line2,
        "city": address.city,
        "state": address.state,
        "postalCode": address.postalCode,
        "country": address.country,
    }


def to_record(entity_type: str, entity_id: str, changed_at: datetime, data: dict[str, Any]) -> DacsRecord:
    """The DACS record of one CCB entity image; raises ``ValidationError`` when the data cannot make one."""
    parsed = ENTITY_MODELS[entity_type].model_validate(data)
    common: dict[str, Any] = {"externalReferenceId": entity_id, "changeDateTime": format_timestamp(changed_at)}
    if isinstance(parsed, DacsPersonData):
        return ContactRecord.model_validate(
            common
            | _address(parsed.address)
            | {
                "name": parsed.name,
                "contactType": parsed.personType,
                "emailAddress": parsed.emailAddress,
                "phoneNumber": parsed.phones[0].number if parsed.phones else None,
                "language": parsed.language,
            }
        )
    if isinstance(parsed, DacsServicePointData):
        return MeteredServicePointRecord.model_validate(
            common
            | _address(parsed.address)
            | {"premiseId": parsed.premiseId, "servicePointType": parsed.spType, "timeZone": parsed.timeZone}
        )
    assert isinstance(parsed, DacsServiceAgreementData)
    return MeteredServiceRecord.model_validate(
        common
        | {
            "contactExternalReferenceId": parsed.personId,
            "accountId": parsed.accountId,
            "serviceType": parsed.saType,
            "status": parsed.status,
            "startDate": parsed.startDate,
            "endDate": parsed.endDate,
            "meteredServicePointExternalReferenceIds": ",".join(dict.fromkeys(parsed.servicePointIds)),
        }
    )
