"""CCB and MDM as the billing event, bill cycle and adjustment points call them (JSON over HTTPS): one
base URL and secret per system (configuration), one connector per system and process."""

from __future__ import annotations

from typing import Literal

from utilhub.platform.connectors import HttpConnector
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import per_process

JSON = "application/json"


@per_process
def connector_for(system: Literal["CCB", "MDM"]) -> HttpConnector:
    settings = get_settings()
    if system == "CCB":
        return HttpConnector.of("CCB", settings)
    return HttpConnector.of("MDM", settings)
