"""Connectors over real sockets (utilhub.platform.connectors): a target that refuses the connection is
unavailable (a 502 for a synchronous route), one that does not answer in time has timed out (a 504)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from utilhub.platform.connectors import HttpConnector, TargetTimedOut, TargetUnavailable
from utilhub.platform.settings import Settings


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed when the probe is


def test_a_refused_connection_is_unavailable_not_timed_out() -> None:
    # Given a target whose port refuses connections
    connector = HttpConnector("CCB", closed_port(), None, Settings())

    # When it is called
    with pytest.raises(TargetUnavailable) as raised:
        connector.request("GET", "customers", content_type="application/json", within=5)

    # Then it is unavailable, not slow
    assert not isinstance(raised.value, TargetTimedOut)


def test_a_target_that_does_not_answer_within_the_time_given_has_timed_out(silent_server: str) -> None:
    # Given a target that accepts the connection and never answers
    connector = HttpConnector("CCB", silent_server, None, Settings())

    # When it is called with half a second to answer
    with pytest.raises(TargetTimedOut):
        connector.request("GET", "customers", content_type="application/json", within=0.5)
