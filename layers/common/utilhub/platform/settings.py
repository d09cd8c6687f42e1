"""One settings model for the whole library, read from the environment once per process.

Every variable is ``UTILHUB_<FIELD>`` (the template sets them per function). A field a
function needs but was not given raises :class:`ConfigurationError` naming the variable,
at the first use, never at import.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(RuntimeError):
    """A setting the running function needs is missing."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UTILHUB_", extra="ignore", frozen=True)

    stage: str = "dev"

    # State
    sync_request_table: str | None = None
    xref_table: str | None = None
    idempotency_table: str | None = None
    delivery_queue_url: str | None = None

    # Sync request engine
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
    meters_managed_in: Literal["CCB", "MDM"] = "CCB"

    # HTTP API
    max_body_bytes: int = Field(default=262_144, ge=1024)
    idempotency_expiry_seconds: int = Field(default=86_400, ge=60)
    retry_after_seconds: int = Field(default=1, ge=1)  # what a 503 asks the caller to wait
    # each OAuth2 client id -> the systems it may act as, JSON (utilhub.platform.identity)
    client_systems: str | None = None

    # Connectors (one base URL and secret per target application)
    mdm_base_url: str | None = None
    mdm_secret_arn: str | None = None
    brm_base_url: str | None = None
    brm_secret_arn: str | None = None
    ccb_base_url: str | None = None
    ccb_secret_arn: str | None = None

    # A route that answers at once calls its target within this budget (under API Gateway's 29 s)
    sync_call_budget_seconds: float = Field(default=10.0, gt=0, le=28)

    # Domain value maps: the SSM parameter holding this deployment's overrides of the shipped maps
    domain_value_maps_parameter: str | None = None
    domain_value_maps_max_age_seconds: int = Field(default=300, ge=0)

    # Customer pack (Siebel -> CCB)
    customer_update_queue_url: str | None = None
    # a customer an order began to create in CCB and never recorded stops being "synchronizing" after this
    customer_synchronizing_wait_seconds: int = Field(default=3600, ge=60)

    # Field work pack (CCB <-> MWM <-> WAM/ODM)
    field_work_model: Literal["v1.9", "v2.1"] = "v2.1"
    field_work_routing_parameter: str | None = None  # this deployment's routing rules (JSON), replacing the shipped ones
    field_work_state_machine_arn: str | None = None
    field_work_event_queue_url: str | None = None
    field_work_relay_queue_url: str | None = None
    field_work_attachment_bucket: str | None = None
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    attachment_upload_expiry_seconds: int = Field(default=900, ge=60, le=3600)
    attachment_download_expiry_seconds: int = Field(default=86_400, ge=60, le=604_800)
    mwm_base_url: str | None = None
    mwm_secret_arn: str | None = None
    wam_base_url: str | None = None
    wam_secret_arn: str | None = None
    odm_base_url: str | None = None
    odm_secret_arn: str | None = None
    # Meter data billing (MD-11, MD-12, MD-14, MD-15): the longest usage period asked at once, the usage requests' state and queue
    usage_max_period_days: int = Field(default=93, ge=1, le=366)
    usage_request_table: str | None = None
    usage_request_queue_url: str | None = None
    # a usage request SENT longer than this (above the queue's maxReceiveCount x VisibilityTimeout) goes to ERROR
    usage_request_retry_window_seconds: int = Field(default=3600, ge=60)
    # a usage request AWAITING_DATA_SYNC longer than this (its SA's master data not synchronized to MDM) goes to ERROR
    usage_request_data_sync_wait_seconds: int = Field(default=14400, ge=60)
    # Meter data billing events, bill cycle and links (MD-13, MD-16, MD-17, MD-19, MD-20, MD-21)
    meter_data_relay_queue_url: str | None = None
    meter_data_bill_status_queue_url: str | None = None  # MD-16, FIFO: one message group per usage transaction
    meter_data_links_parameter: str | None = None  # this deployment's navigation link templates (JSON), over the shipped ones
    # DACS pack (CCB -> DACS extract files)
    dacs_exchange_bucket: str | None = None
    dacs_notify_ccb: bool = False  # DA-04: DACS's acknowledgements of incremental records are passed on to CCB
    dacs_notification_queue_url: str | None = None

    # Order to cash
    order_state_machine_arn: str | None = None
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    read_timeout_seconds: float = Field(default=8.0, gt=0)
    secret_max_age_seconds: int = Field(default=300, ge=0)

    # Operations: each dead-letter queue an operator may redrive, {"<pack>/<queue>": queue URL} (JSON)
    dead_letter_queues: str | None = None

    # XML hardening
    xml_max_bytes: int = Field(default=1_048_576, ge=1024)
    xml_max_depth: int = Field(default=32, ge=4, le=256)

    def require(self, field: str) -> str:
        """The value of a setting this function cannot run without."""
        value = getattr(self, field)
        if value in (None, ""):
            raise ConfigurationError(f"UTILHUB_{field.upper()} is not set for this function")
        return str(value)


@cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return Settings()
