"""The DACS pack's services, built once per process from the settings."""

from __future__ import annotations

from typing import Any

from utilhub.packs.dacs.initial import InitialSync, run_step
from utilhub.packs.dacs.transfer import ExtractFileMover
from utilhub.platform import aws
from utilhub.platform.reasons import values_withheld
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import per_process


@per_process
def extract_file_mover() -> ExtractFileMover:
    return ExtractFileMover(aws.client("s3"), get_settings().dacs.require("dacs_exchange_bucket"))


@per_process
def initial_sync() -> InitialSync:
    return InitialSync(aws.client("s3"), get_settings().dacs.require("dacs_exchange_bucket"))


def run_initial_sync_step(event: dict[str, Any]) -> dict[str, Any]:
    """DA-01: one step of the initial synchronization's state machine."""
    with aws.transient_failures_retryable(), values_withheld():  # no refused value in its history or log
        return run_step(initial_sync(), event)
