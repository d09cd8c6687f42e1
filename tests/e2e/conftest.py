"""e2e fixtures: the local runtime on free ports, driven over HTTP with httpx and boto3."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from localhub.apigw.identities import application_clients
from localhub.aws.endpoint import reset
from localhub.callers import ApplicationAuth
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
def client(runtime: LocalRuntime) -> Iterator[httpx.Client]:
    """Calls the API as the application that sends each call, with its own client (localhub.callers):
    a scope the template does not give that application fails the test."""
    assert runtime.hub.stack is not None
    asset_system = "WAM" if runtime.hub.stack.parameters.get("FieldWorkModel") == "v1.9" else "ODM"
    auth = ApplicationAuth(runtime.api_url, application_clients(runtime.hub.stack), asset_system=asset_system)
    with httpx.Client(base_url=runtime.api_url, timeout=30, auth=auth) as authorized:
        yield authorized
