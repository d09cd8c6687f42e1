"""localhub.aws.patches.server: moto's server finds each host's backend as moto does, looked up once."""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from localhub.aws.patches import server as moto_server

HOSTS = [
    "dynamodb.eu-west-1.amazonaws.com",
    "sqs.eu-west-1.amazonaws.com",
    "s3.eu-west-1.amazonaws.com",
    "bucket.s3.amazonaws.com",
    "states.eu-west-1.amazonaws.com",
    "secretsmanager.us-east-1.amazonaws.com",
    "dynamodb",  # a module's name is its own backend
    "nothing.example.com",  # no backend
]


def test_each_host_gets_moto_s_own_backend() -> None:
    dispatcher = DomainDispatcherApplication(create_backend_app)
    moto_server.install()  # perhaps already, by an earlier test of this process: moto's own lookups are kept
    moto_s_lookup = DomainDispatcherApplication.get_backend_for_host.__wrapped__  # type: ignore[attr-defined]
    expected = {host: moto_s_lookup(dispatcher, host) for host in HOSTS}
    assert expected["dynamodb.eu-west-1.amazonaws.com"] == "dynamodb"
    assert expected["nothing.example.com"] is None
    assert {host: dispatcher.get_backend_for_host(host) for host in HOSTS} == expected
    assert {host: dispatcher.get_backend_for_host(host) for host in HOSTS} == expected  # remembered, unchanged
    assert dispatcher.get_backend_for_host(None) is None


def test_a_found_backend_is_looked_up_once_and_a_missing_one_every_time() -> None:
    asked: list[str | None] = []

    def lookup(_: Any, host: str | None) -> str | None:
        asked.append(host)
        return "dynamodb" if host and host.startswith("dynamodb.") else None

    remembered = moto_server._remembering(lookup)
    for _ in range(3):
        assert remembered(None, "dynamodb.eu-west-1.amazonaws.com") == "dynamodb"
        assert remembered(None, "nothing.example.com") is None
    assert asked == ["dynamodb.eu-west-1.amazonaws.com"] + ["nothing.example.com"] * 3
