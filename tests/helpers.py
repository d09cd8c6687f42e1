"""What the tests share: a JSON body posted to the hub in-process with a caller's claims, waiting until something
is so, a token of a local application's client, the time each call to a target was given, a customer Oracle's
pack made in CCB, a DynamoDB write whose answer is lost after it was applied, and the idempotency and cross-reference tables in moto."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    import pytest
    from moto.core.config import DefaultConfig

    from localhub.hub import ApiResponse, LocalHub
    from localhub.simulators.ccb import CcbSimulator

JSON = {"content-type": "application/json"}


def post_json(hub: LocalHub, path: str, body: Any, claims: dict[str, Any] | None, headers: dict[str, str] | None = None) -> ApiResponse:
    """``POST path`` through the hub's API with ``body`` as JSON (text or bytes as they are, no body for None), as the
    caller ``claims`` name (None: no token); ``headers`` are added to the JSON content type (or replace it)."""
    raw = body if body is None or isinstance(body, str | bytes) else json.dumps(body)
    return hub.call_api("POST", path, body=raw, headers={**JSON, **(headers or {})}, claims=claims)


def until[T](probe: Callable[[], T], timeout: float = 20.0, interval: float = 0.1) -> T:
    """What ``probe`` answers once it answers something true, or its last answer when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not (found := probe()) and time.monotonic() < deadline:
        time.sleep(interval)
    return found


def bearer(anonymous: httpx.Client, client_id: str) -> dict[str, str]:
    """A token of the local client ``client_id`` (its application's, with its deployed counterpart's scopes)."""
    answer = anonymous.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, f"{client_id}-local-secret"))
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def call_limits(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """The seconds each call to a target is given from now on (its ``within``: what was left of its route's time
    budget, the whole call's limit), by system, in the order made. What the hub computed, not how long calls took, so
    a check on it holds on a loaded machine. The calls are made as they would be; they are only observed."""
    from utilhub.platform.connectors import HttpConnector

    limits: dict[str, list[float]] = defaultdict(list)
    request = HttpConnector.request

    def observed(connector: HttpConnector, *args: Any, within: float | None = None, **kwargs: Any) -> Any:
        limits[connector.system].append(float("inf") if within is None else within)
        return request(connector, *args, within=within, **kwargs)

    monkeypatch.setattr(HttpConnector, "request", observed)
    return limits


def assert_within_budget(limits: list[float], *, budget: float, read_timeout: float) -> None:
    """The calls of one request to a target that did not answer (``limits`` from :func:`call_limits`) kept to the route's
    time budget: the first was given at most the budget, and a second try, made once the first had waited out its read
    timeout, at most what was left (``budget - read_timeout``), never a read timeout of its own."""
    assert 1 <= len(limits) <= 2, limits
    first, *again = limits
    assert first <= budget, limits
    # a socket's timeout never fires before it is due; the margin is float rounding, not time the machine may lose
    assert all(within <= budget - read_timeout + 0.01 for within in again), limits


def _service_point_syncs(service_points: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "syncRequestId": f"SPS-{service_point}",
            "entityType": "SERVICE_POINT",
            "entityId": service_point,
            "changedAt": "2026-11-01T09:00:00Z",
            "data": {"premiseId": f"PR-{service_point}", "spType": "E-RES"},
        }
        for service_point in service_points
    ]


def _target_id(state: dict[str, Any]) -> str:
    """The id the asset system gave a service point, from its sync request's last step (``acknowledged by ODM as <id>``)."""
    assert state["status"] == "SYNCHRONIZED", state
    return str(state["history"][-1]["reason"]).rsplit(" as ", 1)[1]


def synchronize_service_points(hub: LocalHub, *service_points: str) -> dict[str, str]:
    """FW-06 over the API: CCB's service points sent to the model's asset system (WAM or ODM) and cross-referenced,
    as FW-01 needs before it creates an activity there; each one's id in that system (from its acknowledgement)."""
    requests = _service_point_syncs(service_points)
    answer = post_json(hub, "/field-work/sync-requests:batch", {"requests": requests}, hub.claims_of("CCB"))
    assert answer.status == 202, answer.body
    run = hub.run_schedule("FieldWorkSpSyncMonitorFunction")
    assert not run.failed, run.error
    hub.drain()
    claims = hub.claims_of("CCB")
    return {
        str(r["entityId"]): _target_id(hub.call_api("GET", f"/field-work/sync-requests/{r['syncRequestId']}", claims=claims).json())
        for r in requests
    }


def synchronize_service_points_over_http(client: httpx.Client, *service_points: str) -> dict[str, str]:
    """:func:`synchronize_service_points` through the local runtime's HTTP API (its monitor run on demand)."""
    requests = _service_point_syncs(service_points)
    answer = client.post("/field-work/sync-requests:batch", json={"requests": requests})
    assert answer.status_code == 202, answer.text
    assert client.post("/_local/schedules/FieldWorkSpSyncMonitorFunction/run").status_code < 300
    ids = {}
    for request in requests:
        path = f"/field-work/sync-requests/{request['syncRequestId']}"

        def synchronized(path: str = path) -> dict[str, Any]:
            state: dict[str, Any] = client.get(path).json()
            return state if state.get("status") == "SYNCHRONIZED" else {}

        ids[str(request["entityId"])] = _target_id(until(synchronized) or client.get(path).json())
    return ids


def made_by_oracles_pack(ccb: CcbSimulator, siebel_id: str, name: str = "Ada Lovelace") -> tuple[str, str]:
    """A customer Oracle's pack created in CCB before the cutover (CCB's own service, CCB's codes), made straight at
    CCB's simulator ``ccb``: (person, account). What the simulator received is cleared: the tests look at what the hub
    sends."""
    customer = {
        "siebelAccountId": siebel_id,
        "person": {"name": name},
        "account": {"paymentMethod": "DD", "billingProfileId": f"BP-{siebel_id}"},
        "addresses": [{"addressType": "BILL", "address1": "12 Analytical Row", "city": "Springfield", "country": "USA"}],
        "contacts": [],
        "billRoute": {"billRouteType": "EMAIL"},
    }
    reply = ccb.handle("POST", "/customers", json.dumps(customer).encode(), JSON)
    assert reply.status == 201, reply.body
    made = json.loads(reply.body)
    ccb.received.clear()
    return made["personId"], made["accountId"]


@contextmanager
def answer_lost_once(client: Any, operation: str, lost: Callable[[dict[str, Any]], bool]) -> Iterator[list[dict[str, Any]]]:
    """The first ``operation`` call (``PutItem``, ``UpdateItem``...) of ``client`` (boto3's, a resource's
    ``meta.client``) whose request ``lost`` picks has its answer lost after DynamoDB applied it, as after a read timeout
    under load: botocore's own retry decision (``needs-retry``) sends it again at once, whatever the transport (moto in
    process, or a server). Yields the requests so retried (their parameters, decoded), to tell that it happened."""
    retried: list[dict[str, Any]] = []

    def retry_once(request_dict: dict[str, Any], **_: Any) -> int | None:
        body = request_dict["body"]
        params = json.loads(body.decode() if isinstance(body, bytes) else body)
        if not retried and lost(params):
            retried.append(params)
            return 0  # tried again at once
        return None

    event = f"needs-retry.dynamodb.{operation}"
    client.meta.events.register_first(event, retry_once)
    try:
        yield retried
    finally:
        client.meta.events.unregister(event, retry_once)


@contextmanager
def moto_xref_table(monkeypatch: pytest.MonkeyPatch, aws_config: DefaultConfig | None = None) -> Iterator[Any]:
    """The cross-reference table as the template builds it (keys and indexes), in moto in process (``mock_aws`` with
    ``aws_config``, e.g. Step Functions' executions only recorded), named by the hub's settings (no journal), the
    wiring and the metrics fresh; yields its boto3 ``Table``. AWS calls made inside the block go to moto."""
    import boto3
    from moto import mock_aws

    from localhub.template import Template
    from utilhub.platform import wiring
    from utilhub.platform.observability import metrics

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("UTILHUB_JOURNAL_TABLE", raising=False)
    table = Template.load().resources["CrossReferenceTable"]["Properties"]
    with mock_aws(config=aws_config):
        created = boto3.resource("dynamodb").create_table(
            TableName="xref",
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("UTILHUB_XREF_TABLE", "xref")
        wiring.reset()
        metrics.clear_metrics()
        try:
            yield created
        finally:
            metrics.clear_metrics()
            wiring.reset()


@contextmanager
def moto_idempotency_table(monkeypatch: pytest.MonkeyPatch, name: str = "idempotency") -> Iterator[Any]:
    """The idempotency records' table (Powertools' key ``id``) in moto in process, named by the hub's settings, the
    wiring and the hub's clients fresh; yields the hub's DynamoDB client. AWS calls made inside the block go to moto."""
    from moto import mock_aws

    from utilhub.platform import aws, wiring

    monkeypatch.setenv("UTILHUB_IDEMPOTENCY_TABLE", name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    with mock_aws():
        wiring.reset()
        aws.reset_clients()
        client = aws.client("dynamodb")
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        try:
            yield client
        finally:
            wiring.reset()
            aws.reset_clients()
