"""The local runtime over HTTP: tokens, the JWT authorizer, the control API, the embedded AWS
endpoint, and MD-01 person sync until SYNCHRONIZED with the record in the MDM simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import jwt

from localhub.apigw.auth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET
from localhub.apigw.identities import local_clients
from localhub.server import LocalRuntime
from tests.helpers import until

PERSON = {
    "syncRequestId": "E2E-1",
    "entityType": "PERSON",
    "entityId": "E2E-P1",
    "changedAt": "2026-11-20T09:00:00Z",
    "data": {"name": "Ada Lovelace"},
}


def wait_for(client: httpx.Client, path: str, status: str, timeout: float = 10.0) -> dict:
    found = until(lambda: (body := client.get(path).json()).get("status") == status and body, timeout, interval=0.05)
    if not found:
        last = client.get(path).json()
        raise AssertionError(f"{path} stayed {last.get('status')}, wanted {status}: {last}")
    return found  # type: ignore[no-any-return]


def test_person_sync_over_http_until_synchronized(runtime: LocalRuntime, client: httpx.Client) -> None:
    # Given a token and a person sync request posted over HTTP
    posted = client.post("/meter-data/sync-requests", json=PERSON, headers={"X-Correlation-Id": "e2e-corr-1"})
    assert posted.status_code == 202, posted.text
    assert posted.headers["x-correlation-id"] == "e2e-corr-1"
    # Then the hub answers PENDING, and sends it at its intake (the person has nothing in flight): with no monitor run,
    # the SQS poller delivers it in the background, the request becomes SYNCHRONIZED and the MDM simulator holds the contact
    assert posted.json()["status"] == "PENDING"
    body = wait_for(client, "/meter-data/sync-requests/E2E-1", "SYNCHRONIZED")
    assert [h["status"] for h in body["history"]] == ["PENDING", "SENT", "SYNCHRONIZED"]
    state = client.get("/_local/sim/mdm/state").json()
    assert state["records"]["PERSON#E2E-P1"]["data"]["ContactName"] == "Ada Lovelace"
    # and the monitor's run, through the control API, finds nothing left to send
    run = client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
    assert run.status_code == 200, run.text
    assert run.json()["result"]["queued"] == 0


def test_a_meter_read_posted_before_its_installation_in_ccb_xml_waits_then_follows_it_over_http(
    runtime: LocalRuntime, client: httpx.Client
) -> None:
    samples = Path(__file__).resolve().parents[2] / "events" / "meter_data" / "sync_requests"

    def post_sample(name: str) -> None:
        event = json.loads((samples / f"submit-{name}.json").read_text(encoding="utf-8"))
        response = client.post(
            "/meter-data/sync-requests", content=event["body"], headers={"Content-Type": event["headers"]["content-type"]}
        )
        assert response.status_code == 202, response.text

    def monitor_until(path: str, status: str) -> dict:
        for _ in range(20):
            client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
            body: dict = client.get(path).json()
            if body.get("status") == status:
                return body
            time.sleep(0.1)
        return wait_for(client, path, status)

    # Given a scalar read posted in CCB's XML before the installation it was taken under
    post_sample("scalar-meter-read-xml")
    waiting = monitor_until("/meter-data/sync-requests/SR-10002", "WAITING")
    assert waiting["waitingFor"]["entityId"] == "H-0002"
    # When the service point, the meter and the installation follow (XML and JSON alike)
    for name in ("service-point-xml", "meter-xml", "sp-meter-history-xml"):
        post_sample(name)
    # Then the read goes to MDM by itself after them, as a measurement
    body = monitor_until("/meter-data/sync-requests/SR-10002", "SYNCHRONIZED")
    statuses = [h["status"] for h in body["history"]]
    # (WAITING repeats when the reason changed while the parents were on their way)
    assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == ["PENDING", "WAITING", "SENT", "SYNCHRONIZED"]
    records = client.get("/_local/sim/mdm/state").json()["records"]
    assert records["SCALAR_METER_READ#R-0002"]["kind"] == "Measurement"
    assert records["SP_METER_HISTORY#H-0002"]["kind"] == "InstallEvent"


def test_token_endpoint_takes_form_and_basic_credentials(anonymous: httpx.Client) -> None:
    form = anonymous.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": LOCAL_CLIENT_ID, "client_secret": LOCAL_CLIENT_SECRET}
    )
    basic = anonymous.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET))
    assert (form.status_code, basic.status_code) == (200, 200)
    claims = jwt.decode(basic.json()["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == LOCAL_CLIENT_ID
    assert "utilhub/meter-data" in claims["scope"].split()
    assert basic.json()["token_type"] == "Bearer"


def test_token_endpoint_refuses_wrong_secret_and_unknown_scope(anonymous: httpx.Client) -> None:
    wrong = anonymous.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(LOCAL_CLIENT_ID, "nope"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    scope = anonymous.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "utilhub/everything"},
        auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET),
    )
    assert (scope.status_code, scope.json()["error"]) == (400, "invalid_scope")


def test_missing_and_forged_tokens_are_401(runtime: LocalRuntime, anonymous: httpx.Client) -> None:
    assert anonymous.post("/meter-data/sync-requests", json=PERSON).status_code == 401
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "client_id": LOCAL_CLIENT_ID,
        "iss": runtime.api_url,
        "exp": int(time.time()) + 600,
        "scope": "utilhub/meter-data",
        "token_use": "access",
    }
    forged = jwt.encode(claims, other_key, algorithm="RS256")
    unsigned = jwt.encode(claims, key="", algorithm="none")
    for token in (forged, unsigned, "not-a-jwt"):
        response = anonymous.post("/meter-data/sync-requests", json=PERSON, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
    # and nothing was stored
    assert runtime.hub.call_api("GET", "/meter-data/sync-requests/E2E-1", claims=runtime.hub.claims_of("CCB")).status == 404


def test_expired_token_is_401(runtime: LocalRuntime, anonymous: httpx.Client) -> None:
    token = anonymous.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET)).json()[
        "access_token"
    ]
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["exp"] = int(time.time()) - 5
    assert runtime.issuer is not None
    expired = jwt.encode(claims, runtime.issuer._key, algorithm="RS256")
    assert anonymous.get("/meter-data/sync-requests/x", headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def test_token_without_the_route_scope_is_403(runtime: LocalRuntime, anonymous: httpx.Client) -> None:
    token = anonymous.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=("osm", "osm-local-secret")).json()[
        "access_token"
    ]
    response = anonymous.post("/meter-data/sync-requests", json=PERSON, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_each_application_has_its_client_with_the_templates_scopes_and_acts_only_as_itself(
    runtime: LocalRuntime, anonymous: httpx.Client
) -> None:
    # Given the clients the template gives each application
    template = {client.name: client.scopes for client in local_clients()}
    # When each asks for a token with its secret
    tokens = {}
    for name in ("ccb", "mdm", "siebel", "osm", "mwm", "wam", "odm", "dacs", "ops"):
        answer = anonymous.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(name, f"{name}-local-secret"))
        assert answer.status_code == 200, (name, answer.text)
        tokens[name] = answer.json()["access_token"]
        # Then it holds exactly its deployed counterpart's scopes
        assert set(jwt.decode(tokens[name], options={"verify_signature": False})["scope"].split()) == template[name]
    # And MWM's token posting ODM's billable charges is refused naming ODM, ODM's accepted
    charges = {
        "completionId": "E2E-C1",
        "sourceSystem": "ODM",
        "workOrderId": "WO-1",
        "servicePointId": "SP-1",
        "completedAt": "2026-12-01T10:00:00Z",
        "charges": [{"chargeType": "TRIP", "amount": 10, "currency": "USD"}],
    }
    as_wam = anonymous.post("/field-work/billing-charges", json=charges, headers={"Authorization": f"Bearer {tokens['wam']}"})
    as_mwm = anonymous.post("/field-work/billing-charges", json=charges, headers={"Authorization": f"Bearer {tokens['mwm']}"})
    as_odm = anonymous.post("/field-work/billing-charges", json=charges, headers={"Authorization": f"Bearer {tokens['odm']}"})
    assert (as_wam.status_code, as_wam.json()["claimedSystem"]) == (403, "ODM")
    assert as_mwm.status_code == 403  # API Gateway: MWM's client lacks the charges' scope
    assert as_odm.status_code == 202, as_odm.text


def test_unknown_route_is_404(client: httpx.Client) -> None:
    assert client.get("/no/such/route").status_code == 404


def test_control_api_health_resources_and_faults(runtime: LocalRuntime, client: httpx.Client) -> None:
    health = client.get("/_local/health").json()
    assert health["status"] == "ok"
    assert "POST /meter-data/sync-requests" in health["routes"]
    resources = client.get("/_local/resources").json()
    assert resources["MdmDeliveryQueue"].endswith(".fifo")
    assert resources["SyncRequestTable"] == "utilhub-local-SyncRequestTable"
    fault = client.post("/_local/sim/mdm/faults", json={"kind": "down", "count": 1})
    assert fault.status_code == 201
    assert client.get("/_local/sim/mdm/state").json()["faults"][0]["kind"] == "down"
    assert client.post("/_local/sim/mdm/faults", json={"kind": "explode"}).status_code == 400
    assert client.get("/_local/sim/nosuch/state").status_code == 404
    assert client.post("/_local/schedules/NoSuchFunction/run").status_code == 404


def test_control_api_throttles_the_functions_aws_calls(client: httpx.Client) -> None:
    # Given every DynamoDB call of the functions throttled through the control API
    started = client.post("/_local/aws/throttling", json={"rate": 1.0, "services": ["dynamodb"]})
    assert started.status_code == 201, started.text
    # When a sync request is posted, Then the hub answers 503 with Retry-After, and the report names the call
    refused = client.post("/meter-data/sync-requests", json={**PERSON, "syncRequestId": "E2E-TH1"})
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "1")
    assert refused.json()["type"].endswith("/unavailable")
    report = client.get("/_local/aws/throttling").json()
    assert {"function": "utilhub-local-MeterDataSyncRequestsFunction", "operation": "dynamodb.PutItem", "count": 1} in report["throttled"]
    assert {"function": "utilhub-local-MeterDataSyncRequestsFunction", "operation": "dynamodb.PutItem", "count": 1} in report["seen"]
    # and once throttling stops, the same request is taken
    assert client.delete("/_local/aws/throttling").status_code == 204
    assert client.post("/meter-data/sync-requests", json={**PERSON, "syncRequestId": "E2E-TH1"}).status_code == 202
    # and a rate of 0 counts the functions' calls per function and operation, throttling none
    assert client.post("/_local/aws/throttling", json={"rate": 0}).status_code == 201
    assert client.post("/meter-data/sync-requests", json={**PERSON, "syncRequestId": "E2E-TH2"}).status_code == 202
    counted = client.get("/_local/aws/throttling").json()
    assert counted["throttled"] == []
    assert any(c["operation"] == "dynamodb.PutItem" and c["function"].endswith("MeterDataSyncRequestsFunction") for c in counted["seen"])
    assert sum(c["count"] for c in counted["seen"]) == counted["calls"] > 0
    assert client.delete("/_local/aws/throttling").status_code == 204
    assert client.post("/_local/aws/throttling", json={"rate": 2}).status_code == 400
    assert client.post("/_local/aws/throttling", json=[]).status_code == 400


def test_embedded_endpoint_answers_boto3_and_the_aws_cli(runtime: LocalRuntime, client: httpx.Client) -> None:
    resources = client.get("/_local/resources").json()
    tables = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint).list_tables()["TableNames"]
    assert resources["SyncRequestTable"] in tables
    aws = Path(sys.executable).with_name("aws")
    listed = subprocess.run(  # noqa: S603 - our own venv's CLI, fixed arguments
        [str(aws), "--endpoint-url", str(runtime.aws_endpoint), "sqs", "list-queues", "--output", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
        timeout=120,
    )
    assert resources["MdmDeliveryQueue"].rsplit("/", 1)[1] in " ".join(json.loads(listed.stdout)["QueueUrls"])


def test_a_failing_handler_does_not_take_the_runtime_down(runtime: LocalRuntime, client: httpx.Client) -> None:
    # Given the delivery queue gets a message the delivery function cannot parse
    sqs = boto3.client("sqs", endpoint_url=runtime.aws_endpoint)
    queue = client.get("/_local/resources").json()["MdmDeliveryQueue"]
    sqs.send_message(QueueUrl=queue, MessageBody="not json", MessageGroupId="g", MessageDeduplicationId="d1")
    time.sleep(0.5)
    # Then the runtime still answers and still delivers real work
    assert client.get("/_local/health").json()["status"] == "ok"
    test_person_sync_over_http_until_synchronized(runtime, client)


def test_order_revision_over_http_until_succeeded(runtime: LocalRuntime, client: httpx.Client) -> None:
    # Given a fulfillment order posted by OSM with a token of the order-to-cash scope
    order = {
        "orderId": "E2E-ORD",
        "revision": 1,
        "lines": [
            {
                "lineId": "L1",
                "action": "ADD",
                "billingType": "Subscription",
                "billingSystemId": "BRM1",
                "serviceAccount": {"id": "E2E-SA"},
                "billingAccount": {"id": "E2E-BA"},
                "billingProfile": {"id": "E2E-BP"},
            }
        ],
    }
    assert client.post("/order-to-cash/fulfillment-orders", json=order).status_code == 202
    # When the workflow has run in the local runtime
    body = wait_for(client, "/order-to-cash/fulfillment-orders/E2E-ORD/revisions/1", "SUCCEEDED", timeout=30)
    # Then the BRM simulator holds the paying hierarchy
    assert body["result"]["hierarchy"][0]["parent"] == "E2E-BA"
    state = client.get("/_local/sim/brm/state").json()
    accounts = {a["accountNo"]: a for a in state["records"]["BRM1"]["accounts"].values()}
    assert accounts["E2E-SA"]["paying"] is False
    assert accounts["E2E-SA"]["parentPoid"] == accounts["E2E-BA"]["poid"]


def test_ccb_simulator_sends_through_the_http_api_with_a_token(runtime: LocalRuntime, client: httpx.Client) -> None:
    ccb_url = client.get("/_local/health").json()["simulators"]["CCB"]
    sent = httpx.put(f"{ccb_url}/persons/E2E-P9", json={"name": "Mary Somerville"}, timeout=30).json()
    assert sent["hubStatus"] == 202, sent
    client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
    wait_for(client, f"/meter-data/sync-requests/{sent['syncRequestId']}", "SYNCHRONIZED")


def test_siebel_customer_over_http_created_then_updated_in_ccb(runtime: LocalRuntime, client: httpx.Client) -> None:
    # Given a Siebel XML order (a billing account in Siebel's codes) posted over HTTP with a token
    from utilhub.packs.customer.siebel_xml import write_account_update, write_order

    address = {"type": "Mailing", "line1": "1 Langley Rd", "city": "Hampton", "state": "va", "country": "usa"}
    account = {
        "id": "E2E-C1",
        "name": "Katherine Johnson",
        "address": address,
        "billingProfile": {"id": "E2E-BP-C1", "paymentMethod": "direct debit", "billRoute": "Postal"},
    }
    xml = write_order({"orderId": "E2E-SO1", "lines": [{"lineId": "1", "billingAccount": account}]}, "E2E-MSG-1")
    created = client.post("/customer/siebel/orders", content=xml, headers={"Content-Type": "application/xml"})
    assert created.status_code == 200, created.text
    (customer,) = created.json()["customers"]
    assert customer["action"] == "CREATED"

    # When Siebel sends an update of the address
    update = {"updateId": "E2E-U1", "changedAt": "2099-01-01T00:00:00Z", "address": {**address, "city": "Newport News"}}
    posted = client.post(
        "/customer/siebel/accounts/E2E-C1/updates",
        content=write_account_update("E2E-C1", update, "E2E-MSG-2"),
        headers={"Content-Type": "application/xml"},
    )
    assert posted.status_code == 202, posted.text

    # Then the CCB simulator holds the customer in CCB's codes with the new address (delivered by the queue's poller)
    deadline = time.monotonic() + 15
    person: dict = {}
    while time.monotonic() < deadline:
        person = client.get("/_local/sim/ccb/state").json()["records"][f"PERSON#{customer['ccbPersonId']}"]
        if person["addresses"][0]["city"] == "Newport News":
            break
        time.sleep(0.1)
    assert person["addresses"][0] == {
        "addressType": "MAIL",
        "address1": "1 Langley Rd",
        "city": "Newport News",
        "state": "VA",
        "country": "USA",
    }
    account_record = client.get("/_local/sim/ccb/state").json()["records"][f"ACCOUNT#{customer['ccbAccountId']}"]
    assert account_record["paymentMethod"] == "DD"
