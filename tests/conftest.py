"""Shared fixtures: the embedded AWS endpoint (moto server) for integration and e2e tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localhub.aws.endpoint import embedded_aws

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def sample_event(relative: str) -> dict[str, Any]:
    """A sample event from ``events/`` (the same files ``sam local invoke -e`` takes)."""
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """The embedded AWS endpoint (a moto server on a free loopback port), shared by the session."""
    with embedded_aws() as url:
        yield url


@pytest.fixture
def known_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Callers a unit test's resolver accepts: clients ``c`` and ``ccb`` (acting as no system and as CCB)."""
    from utilhub.platform import wiring

    monkeypatch.setenv("UTILHUB_CLIENT_SYSTEMS", '{"c": [], "ccb": ["CCB"]}')
    wiring.reset()
    yield
    monkeypatch.delenv("UTILHUB_CLIENT_SYSTEMS")
    wiring.reset()


@pytest.fixture
def configuration_parameter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """``put(variable, text)``: a deployment's configuration parameter (``platform/configuration``) holding ``text`` in
    SSM (moto, in process), named by the variable ``UTILHUB_<variable>``; read again at once when changed (max age 0)."""
    import boto3
    from moto import mock_aws

    from utilhub.platform import aws, wiring

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("UTILHUB_DOMAIN_VALUE_MAPS_MAX_AGE_SECONDS", "0")
    with mock_aws():
        aws.reset_clients()  # the library's clients built again under moto's mock, its parameter caches empty
        ssm = boto3.client("ssm", region_name="eu-west-1")

        def put(variable: str, text: str) -> None:
            name = f"/utilhub/test/{variable.lower()}"
            ssm.put_parameter(Name=name, Value=text, Type="String", Overwrite=True)
            monkeypatch.setenv(f"UTILHUB_{variable}", name)
            wiring.reset()

        wiring.reset()
        yield put
    aws.reset_clients()
    monkeypatch.undo()
    wiring.reset()
