"""The DACS pack's services, built once per process from the settings."""

from __future__ import annotations

from functools import cache

from utilhub.packs.dacs.transfer import ExtractFileMover
from utilhub.platform import aws
from utilhub.platform.settings import get_settings, on_reload


@cache
def extract_file_mover() -> ExtractFileMover:
    return ExtractFileMover(aws.client("s3"), get_settings().require("dacs_exchange_bucket"))


on_reload(extract_file_mover.cache_clear)
