"""Integration fixtures: the template's resources in moto, the functions run in-process,
the MDM simulator over HTTP. Nothing about the topology is restated here."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import pytest

from localhub.hub import LocalHub


@pytest.fixture
def hub(aws_endpoint: str) -> Iterator[LocalHub]:
    urllib.request.urlopen(urllib.request.Request(f"{aws_endpoint}/moto-api/reset", method="POST")).close()
    local = LocalHub().start()
    yield local
    local.stop()
    assert os.environ["AWS_ENDPOINT_URL"] == aws_endpoint  # no function environment leaked out
