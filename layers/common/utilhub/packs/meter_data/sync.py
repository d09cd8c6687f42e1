"""The CCB -> MDM master data sync flow (MD-01..10, MD-18); its HTTP API is in
:mod:`utilhub.packs.meter_data.api`, so the monitor and the delivery never import the API's resolver.
Its handlers' entries are in :mod:`utilhub.packs.meter_data.wiring`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from utilhub.packs.meter_data import model
from utilhub.packs.meter_data.mdm_xml import MdmSyncXml
from utilhub.platform.settings import Settings
from utilhub.syncrequests.ccb_xml import CcbSyncRequestXml
from utilhub.syncrequests.model import DataRefusal, EntityRef, EntitySpec, SyncFlow

SCOPE = "utilhub/meter-data"
PREFIX = "/meter-data"
METER_SETTING = "UTILHUB_METERS_MANAGED_IN"


def _meters_in_ccb_only(settings: Settings) -> str | None:
    if settings.meter_data.meters_managed_in == "MDM":
        return (
            f"Meters are managed in MDM in this installation ({METER_SETTING}=MDM, template parameter MetersManagedIn): "
            "CCB does not synchronize meter data (MD-07..10)."
        )
    return None


def _not_service_order_managed(data: BaseModel) -> DataRefusal | None:
    if getattr(data, "serviceOrderManaged", False):
        return DataRefusal(
            "serviceOrderManaged",
            "The service point's field work goes through Service Order Management: its meter, meter configuration "
            "and SP-meter history are not synchronized to MDM by CCB.",
        )
    return None


# The order across entities: what MDM must hold before each entity type reaches it (Oracle's integration's
# "use the monitor to avoid timing issues", made a rule of the engine rather than a hope).
def _service_agreement_parents(data: Mapping[str, Any]) -> list[EntityRef]:
    parents = [("SERVICE_POINT", str(sp)) for sp in data.get("servicePointIds", [])]
    return parents + ([("PERSON", str(data["personId"]))] if data.get("personId") else [])


def _sa_relationship_parents(data: Mapping[str, Any]) -> list[EntityRef]:
    return [("SERVICE_AGREEMENT", str(data["serviceAgreementId"])), ("SERVICE_AGREEMENT", str(data["relatedServiceAgreementId"]))]


def _dynamic_option_event_parents(data: Mapping[str, Any]) -> list[EntityRef]:
    return [("DYNAMIC_OPTION", str(data["optionId"]))]


def _sp_meter_history_parents(data: Mapping[str, Any]) -> list[EntityRef]:
    return [("SERVICE_POINT", str(data["servicePointId"])), ("METER", str(data["meterId"]))]


def _scalar_meter_read_parents(data: Mapping[str, Any]) -> list[EntityRef]:
    return [("SP_METER_HISTORY", str(data["spMeterHistoryId"]))]


PARENTS: dict[str, Callable[[Mapping[str, Any]], Sequence[EntityRef]]] = {
    "SERVICE_AGREEMENT": _service_agreement_parents,
    "SA_RELATIONSHIP": _sa_relationship_parents,
    "DYNAMIC_OPTION_EVENT": _dynamic_option_event_parents,
    "SP_METER_HISTORY": _sp_meter_history_parents,
    "SCALAR_METER_READ": _scalar_meter_read_parents,
}


# an open SP-meter history request counts as its service point's (MD-11: a usage request waits for its SA's service
# points and their installations), so one key lookup per service point finds it
OPEN_UNDER: dict[str, Callable[[Mapping[str, Any]], EntityRef]] = {
    "SP_METER_HISTORY": lambda data: ("SERVICE_POINT", str(data["servicePointId"])),
}


def _spec(entity_type: str, data_model: type, point: str, *, meter: bool = False, som: bool = False) -> EntitySpec:
    optional: dict[str, Any] = {"parents": PARENTS[entity_type]} if entity_type in PARENTS else {}
    if entity_type in OPEN_UNDER:
        optional["open_under"] = OPEN_UNDER[entity_type]
    return EntitySpec(
        entity_type,
        data_model,
        point,
        disabled_reason=_meters_in_ccb_only if meter else (lambda _settings: None),
        refusal=_not_service_order_managed if som else (lambda _data: None),
        **optional,
    )


FLOW = SyncFlow(
    name="meter-data",
    source="CCB",
    target="MDM",
    entities={
        spec.entity_type: spec
        for spec in (
            _spec("PERSON", model.PersonData, "MD-01"),
            _spec("SERVICE_POINT", model.ServicePointData, "MD-02"),
            _spec("SERVICE_AGREEMENT", model.ServiceAgreementData, "MD-03"),
            _spec("SA_RELATIONSHIP", model.SaRelationshipData, "MD-04"),
            _spec("DYNAMIC_OPTION", model.DynamicOptionData, "MD-05"),
            _spec("DYNAMIC_OPTION_EVENT", model.DynamicOptionEventData, "MD-06"),
            _spec("METER", model.MeterData, "MD-07", meter=True, som=True),
            _spec("METER_CONFIGURATION", model.MeterConfigurationData, "MD-08", meter=True, som=True),
            _spec("SP_METER_HISTORY", model.SpMeterHistoryData, "MD-09", meter=True, som=True),
            _spec("SCALAR_METER_READ", model.ScalarMeterReadData, "MD-10", meter=True),
            _spec("BILL_CYCLE", model.BillCycleData, "MD-18"),
        )
    },
    target_codec=MdmSyncXml(),
    source_codec=CcbSyncRequestXml(),
    # CCB person <-> MDM contact, SP <-> SP, SA <-> usage subscription, meter <-> device
    xref_entity={"PERSON": "PERSON", "SERVICE_POINT": "SERVICE_POINT", "SERVICE_AGREEMENT": "SERVICE_AGREEMENT", "METER": "METER"},
)
