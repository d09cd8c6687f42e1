"""Integration fixtures: the template's resources in moto, the functions run in-process,
the MDM simulator over HTTP. Nothing about the topology is restated here."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from localhub.hub import LocalHub


@pytest.fixture
def hub(aws_endpoint: str) -> Iterator[LocalHub]:
    requests.post(f"{aws_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    local = LocalHub().start()
    yield local
    local.stop()
    assert os.environ["AWS_ENDPOINT_URL"] == aws_endpoint  # no function environment leaked out
