"""The library's settings, typed by concern, read from the environment once per process.

Every variable is ``UTILHUB_<NAME>`` (the template sets them per function); each concern's fields keep
those names (``UTILHUB_XREF_TABLE`` is ``settings.state.xref_table``; a target's ``UTILHUB_<SYSTEM>_BASE_URL``
and ``UTILHUB_<SYSTEM>_SECRET_ARN`` are ``settings.connectors.of(system)``). A setting a function cannot run
without is read with its concern's ``require``, which raises :class:`ConfigurationError` naming the variable;
the pack's wiring reads them when it builds the function at init (``utilhub.platform.wiring``).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PREFIX = "UTILHUB_"
SYSTEMS = ("ccb", "mdm", "brm", "mwm", "wam", "odm")  # the target applications the hub calls


class ConfigurationError(RuntimeError):
    """A setting the running function needs is missing."""


class Concern(BaseModel):
    """The settings of one concern; each field is the variable ``UTILHUB_<FIELD>``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    def require(self, field: str) -> str:
        """The value of a setting this function cannot run without (a ``ConfigurationError`` naming its variable)."""
        value = getattr(self, field)
        if value in (None, ""):
            raise ConfigurationError(f"{PREFIX}{field.upper()} is not set for this function")
        return str(value)


class StateTables(Concern):
    """The DynamoDB tables the flows keep their state in."""

    sync_request_table: str | None = None
    xref_table: str | None = None
    idempotency_table: str | None = None
    usage_request_table: str | None = None
    # the transactions journal (platform/journal.py): every function records into it when set
    journal_table: str | None = None
    journal_hops: bool = True  # the steps of each transaction, not only its state
    journal_retention_days: int = Field(default=35, ge=1)  # a finished head's and each hop's (JournalRetentionDays)


class SyncEngine(Concern):
    """The sync request engine: its flow's delivery queue, shards, time-outs and monitor."""

    delivery_queue_url: str | None = None
    # each final outcome of the flows named (comma-separated; the template's OutcomesToCcb) is told to CCB through this
    # FIFO queue (syncrequests/outcomes.py); none without the queue
    ccb_outcome_queue_url: str | None = None
    ccb_outcome_flows: str = ""
    sync_request_shards: int = Field(default=8, ge=1, le=64)
    sync_ack_timeout_seconds: int = Field(default=900, ge=1)
    # the flow's delivery queue (the template's, never repeated by hand): a SENT request is not timed out while
    # its message can still be delivered (VisibilityTimeout x maxReceiveCount, and one more for the queue's wait)
    delivery_visibility_timeout_seconds: int = Field(default=0, ge=0)
    delivery_max_receive_count: int = Field(default=0, ge=0)
    # a request that timed out is queued again this many times, each attempt waiting twice as long, then ERROR
    sync_timeout_requeues: int = Field(default=3, ge=0, le=10)
    sync_monitor_page_size: int = Field(default=200, ge=1, le=1000)
    # how long one monitor run works through the backlog before it leaves the rest to the next run
    sync_monitor_budget_seconds: int = Field(default=90, ge=1, le=840)
    sync_request_retention_days: int = Field(default=90, ge=1)


class HttpApi(Concern):
    """What the HTTP API takes and answers."""

    max_body_bytes: int = Field(default=262_144, ge=1024)
    idempotency_expiry_seconds: int = Field(default=86_400, ge=60)
    retry_after_seconds: int = Field(default=1, ge=1)  # what a 503 asks the caller to wait
    # each OAuth2 client id -> the systems it may act as, JSON (utilhub.platform.identity)
    client_systems: str | None = None
    # A route that answers at once calls its target within this budget (under API Gateway's 29 s)
    sync_call_budget_seconds: float = Field(default=10.0, gt=0, le=28)


class Connector(BaseModel):
    """One target application's base URL and secret (``UTILHUB_<SYSTEM>_BASE_URL``, ``UTILHUB_<SYSTEM>_SECRET_ARN``)."""

    model_config = ConfigDict(frozen=True)

    system: str
    base_url: str | None = None
    secret_arn: str | None = None

    def require_base_url(self) -> str:
        if not self.base_url:
            raise ConfigurationError(f"{PREFIX}{self.system.upper()}_BASE_URL is not set for this function")
        return self.base_url


class Connectors(Concern):
    """The target applications and how they are called."""

    ccb: Connector = Connector(system="CCB")
    mdm: Connector = Connector(system="MDM")
    brm: Connector = Connector(system="BRM")
    mwm: Connector = Connector(system="MWM")
    wam: Connector = Connector(system="WAM")
    odm: Connector = Connector(system="ODM")
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    read_timeout_seconds: float = Field(default=8.0, gt=0)
    secret_max_age_seconds: int = Field(default=300, ge=0)

    def of(self, system: str) -> Connector:
        """The connector settings of ``system`` (``CCB``, ``MDM``, ...)."""
        if system.lower() not in SYSTEMS:
            raise ConfigurationError(f"no connector settings for {system}")
        connector: Connector = getattr(self, system.lower())
        return connector


class DomainValueMaps(Concern):
    """The SSM parameter holding this deployment's overrides of the shipped maps (and of other shipped tables)."""

    domain_value_maps_parameter: str | None = None
    domain_value_maps_max_age_seconds: int = Field(default=300, ge=0)


class XmlLimits(Concern):
    """XML hardening."""

    xml_max_bytes: int = Field(default=1_048_576, ge=1024)
    xml_max_depth: int = Field(default=32, ge=4, le=256)


class CustomerPack(Concern):
    """Siebel -> CCB."""

    customer_update_queue_url: str | None = None
    # a customer an order began to create in CCB and never recorded stops being "synchronizing" after this
    customer_synchronizing_wait_seconds: int = Field(default=3600, ge=60)


class FieldWorkPack(Concern):
    """CCB <-> MWM <-> WAM/ODM."""

    field_work_model: Literal["v1.9", "v2.1"] = "v2.1"
    field_work_routing_parameter: str | None = None  # this deployment's routing rules (JSON), replacing the shipped ones
    field_work_state_machine_arn: str | None = None
    field_work_event_queue_url: str | None = None
    field_work_relay_queue_url: str | None = None
    field_work_attachment_bucket: str | None = None
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    attachment_upload_expiry_seconds: int = Field(default=900, ge=60, le=3600)
    attachment_download_expiry_seconds: int = Field(default=86_400, ge=60, le=604_800)
    # an activity CREATING longer than this (above its workflow's longest span: the Retry arithmetic of
    # statemachines/field-activity-creation.asl.json, tests/unit/test_field_work_workflow_retries.py) whose execution
    # ended without recording the outcome goes to ERROR (the creation sweep), within this budget per run
    field_work_creation_bound_seconds: int = Field(default=10_800, ge=60)
    field_work_creation_sweep_budget_seconds: int = Field(default=45, ge=1, le=840)
    # the shards of the index of the activities being created (``ACTIVITY#CREATING#<n>``): never lowered while
    # activities are CREATING (those in a shard no longer read would not be swept); raised at any time
    field_work_creating_shards: int = Field(default=8, ge=1, le=64)


class MeterDataPack(Concern):
    """CCB <-> MDM: master data's meter group, billing (MD-11..15), billing events and links (MD-13..21)."""

    meters_managed_in: Literal["CCB", "MDM"] = "CCB"
    # the longest usage period asked at once, the usage requests' queue
    usage_max_period_days: int = Field(default=93, ge=1, le=366)
    usage_request_queue_url: str | None = None
    # a usage request SENT longer than this (above the queue's maxReceiveCount x VisibilityTimeout) goes to ERROR
    usage_request_retry_window_seconds: int = Field(default=3600, ge=60)
    # a usage request AWAITING_DATA_SYNC longer than this (its SA's master data not synchronized to MDM) goes to ERROR
    usage_request_data_sync_wait_seconds: int = Field(default=14400, ge=60)
    meter_data_relay_queue_url: str | None = None
    meter_data_bill_status_queue_url: str | None = None  # MD-16, FIFO: one message group per usage transaction
    meter_data_links_parameter: str | None = None  # this deployment's navigation link templates (JSON), over the shipped ones


class DacsPack(Concern):
    """CCB -> DACS extract files."""

    dacs_exchange_bucket: str | None = None
    dacs_notify_ccb: bool = False  # DA-04: DACS's acknowledgements of incremental records are passed on to CCB
    dacs_notification_queue_url: str | None = None
    # DA-01 and DA-02: the service agreement statuses DACS takes (comma-separated; packs/dacs/eligibility.py)
    dacs_eligible_sa_statuses: str = Field(default="ACTIVE", pattern=r"^\s*[A-Za-z0-9_-]+\s*(,\s*[A-Za-z0-9_-]+\s*)*$")


class OrderToCashPack(Concern):
    """OSM -> BRM."""

    order_state_machine_arn: str | None = None
    # the KMS key the revisions' card and bank account numbers are encrypted with (the intake's; a step decrypts)
    order_payment_key: str | None = None
    # the KMS HMAC key of the intake's idempotency fingerprint (order_store.fingerprint): the intake's alone
    order_fingerprint_key: str | None = None


class Operations(Concern):
    """Each dead-letter queue an operator may redrive, ``{"<pack>/<queue>": queue URL}`` (JSON), what the
    cross-references lookup tries, and the integration points the summary lists."""

    dead_letter_queues: str | None = None
    # the entity types the cross-references link, looked up when a lookup names none (comma-separated)
    xref_entity_types: str = "PERSON,ACCOUNT,SERVICE_POINT,SERVICE_AGREEMENT,METER,account,billinfo,payinfo"
    # the integration points of the packs this deployment has (comma-separated; the template's Catalogue mapping)
    catalogue: str = ""


CONCERNS: dict[str, type[Concern]] = {
    "state": StateTables,
    "sync": SyncEngine,
    "http": HttpApi,
    "connectors": Connectors,
    "dvm": DomainValueMaps,
    "xml": XmlLimits,
    "customer": CustomerPack,
    "field_work": FieldWorkPack,
    "meter_data": MeterDataPack,
    "dacs": DacsPack,
    "order_to_cash": OrderToCashPack,
    "operations": Operations,
}


def _flat_environment() -> dict[str, str]:
    """Every ``UTILHUB_<NAME>`` variable as ``<name>``: the concerns take theirs from it by name."""
    import os

    return {name[len(PREFIX) :].lower(): value for name, value in os.environ.items() if name.upper().startswith(PREFIX)}


class Settings(BaseModel):
    """A function's settings by concern; built from the ``UTILHUB_*`` variables, or from the same names as
    keyword arguments (``Settings(meters_managed_in="MDM")``), which take precedence over the variables.

    A pydantic model over one source, the environment: pydantic-settings, which did the same through a source of
    ours, cost every cold start the import of every source it has (its CLI's argparse, dotenv, cloud vaults,
    files), a tenth of ``import boto3`` on top of what a handler loads anyway (docs/performance.md)."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    stage: str = "dev"
    state: StateTables = StateTables()
    sync: SyncEngine = SyncEngine()
    http: HttpApi = HttpApi()
    connectors: Connectors = Connectors()
    dvm: DomainValueMaps = DomainValueMaps()
    xml: XmlLimits = XmlLimits()
    customer: CustomerPack = CustomerPack()
    field_work: FieldWorkPack = FieldWorkPack()
    meter_data: MeterDataPack = MeterDataPack()
    dacs: DacsPack = DacsPack()
    order_to_cash: OrderToCashPack = OrderToCashPack()
    operations: Operations = Operations()

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_flat_environment(), **values})

    @model_validator(mode="before")
    @classmethod
    def _by_concern(cls, data: Any) -> Any:
        """The flat names (``xref_table``, ``mdm_base_url``) placed in their concerns."""
        if not isinstance(data, dict):
            return data
        placed: dict[str, Any] = {"stage": data["stage"]} if "stage" in data else {}
        for name, concern in CONCERNS.items():
            if isinstance(data.get(name), BaseModel):
                placed[name] = data[name]
                continue
            values = {field: data[field] for field in concern.model_fields if field in data}
            if concern is Connectors:
                for system in SYSTEMS:
                    values[system] = {
                        "system": system.upper(),
                        "base_url": data.get(f"{system}_base_url"),
                        "secret_arn": data.get(f"{system}_secret_arn"),
                    }
            placed[name] = values
        return placed


@cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use (``utilhub.platform.wiring.reset`` reads them again)."""
    return Settings()
