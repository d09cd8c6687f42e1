"""Shared fixtures: the embedded AWS endpoint (moto server) for integration and e2e tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
