"""e2e fixtures: the local runtime on free ports, driven over HTTP with httpx and boto3."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from localhub.auth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET
from localhub.endpoint import reset
from localhub.server import LocalRuntime


@pytest.fixture
def runtime(aws_endpoint: str) -> Iterator[LocalRuntime]:
    reset(aws_endpoint)
    # schedules are run through the control API, so each test decides when the monitor runs
    local = LocalRuntime(api_port=0, aws_endpoint=aws_endpoint, run_schedules=False, poll_interval=0.05).start()
    yield local
    local.stop()
    assert not local.worker_errors, local.worker_errors


@pytest.fixture
def anonymous(runtime: LocalRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=runtime.api_url, timeout=30) as client:
        yield client


@pytest.fixture
def client(runtime: LocalRuntime, anonymous: httpx.Client) -> Iterator[httpx.Client]:
    token = anonymous.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": LOCAL_CLIENT_ID, "client_secret": LOCAL_CLIENT_SECRET}
    ).json()["access_token"]
    with httpx.Client(base_url=runtime.api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as authorized:
        yield authorized
