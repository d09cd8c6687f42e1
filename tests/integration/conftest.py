"""Integration fixtures: the template's resources in moto, the functions run in-process,
the MDM simulator over HTTP. Nothing about the topology is restated here."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from localhub.endpoint import reset
from localhub.hub import LocalHub


@pytest.fixture
def hub(aws_endpoint: str) -> Iterator[LocalHub]:
    reset(aws_endpoint)
    local = LocalHub().start()
    local.drain()  # S3's test event, sent to the transfer queue when the bucket's notifications were set up
    yield local
    assert local.stop() == []  # no test leaves an execution running behind it
    assert os.environ["AWS_ENDPOINT_URL"] == aws_endpoint  # no function environment leaked out
