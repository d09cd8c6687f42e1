"""Shared fixtures: the embedded AWS endpoint (moto server) for integration and e2e tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def sample_event(relative: str) -> dict[str, Any]:
    """A sample event from ``events/`` (the same files ``sam local invoke -e`` takes)."""
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A moto server on a free loopback port, with the process pointed at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_REGION="eu-west-1",
    )
    os.environ.pop("AWS_PROFILE", None)
    from utilhub.platform import aws

    aws.reset_clients()
    yield url
    server.stop()
    os.environ.clear()
    os.environ.update(saved)
    aws.reset_clients()
