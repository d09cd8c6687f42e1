"""Where the CLI's hub is and how it calls it: the operations API (scope ``utilhub/ops``) with a token of the
operators' client.

A local hub (``make run``) is a URL: its token endpoint is ``<url>/oauth2/token`` and its operators' client the
local ``ops`` client. A deployed hub is a CloudFormation stack: its outputs give the API's URL (``ApiUrl``), the token
endpoint (``TokenUrl``) and the operators' client id (``OperatorClientId``); the client's secret is read from Cognito.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_HUB = "http://127.0.0.1:3000"
LOCAL_OPS_CLIENT = "ops"  # the local runtime's operators' client (localhub.apigw.identities), secret <name>-local-secret
LOCAL_AWS_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_REGION = "eu-west-1"
MAX_PAGE = 500  # the operations API's largest page


@dataclass(frozen=True)
class Deployment:
    """One hub: its API, the operators' client, and its AWS resources (for what has no route, DA-01's start)."""

    api_url: str
    token_url: str
    client_id: str
    client_secret: str
    aws: Callable[[str], Any]  # a boto3 client of the hub's account and region, by service name
    resource: Callable[[str], str]  # a resource's physical id (name, URL or ARN) by its logical id in template.yaml


class ApiError(Exception):
    """An answer that is not a success: its status and, from a problem details body, its title and detail."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(f"{status} {title}" + (f": {detail}" if detail else ""))
        self.status = status
        self.title = title
        self.detail = detail

    @classmethod
    def of(cls, answer: httpx.Response) -> ApiError:
        try:
            problem = answer.json()
        except ValueError:
            problem = None
        if isinstance(problem, dict):
            return cls(answer.status_code, str(problem.get("title") or answer.reason_phrase), str(problem.get("detail") or ""))
        return cls(answer.status_code, answer.reason_phrase, answer.text[:200])


class ClientCredentials(httpx.Auth):
    """A bearer token of one OAuth2 client (client credentials), fetched on first use and again before it expires."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, transport: httpx.BaseTransport | None = None) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.transport = transport
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._token[1] < time.monotonic():
                with httpx.Client(transport=self.transport, timeout=30) as client:
                    answer = client.post(
                        self.token_url, data={"grant_type": "client_credentials"}, auth=(self.client_id, self.client_secret)
                    )
                if answer.status_code != 200:
                    raise ApiError(answer.status_code, "no token for the operators' client", answer.text[:200])
                body: dict[str, Any] = answer.json()
                self._token = (str(body["access_token"]), time.monotonic() + float(body.get("expires_in", 3600)) / 2)
            return self._token[0]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


def transaction_path(point: str, transaction_id: str) -> str:
    """``/ops/transactions/{point}/{id}``, the id percent-encoded whole (an order revision ``ORD-1/2`` is one segment)."""
    return f"/ops/transactions/{quote(point, safe='')}/{quote(transaction_id, safe='')}"


class OpsApi:
    """The operations routes of one hub, as the CLI calls them."""

    def __init__(self, deployment: Deployment, transport: httpx.BaseTransport | None = None) -> None:
        self.deployment = deployment
        auth = ClientCredentials(deployment.token_url, deployment.client_id, deployment.client_secret, transport)
        self.http = httpx.Client(base_url=deployment.api_url, auth=auth, transport=transport, timeout=60)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, path, **kwargs)
        if not answer.is_success:
            raise ApiError.of(answer)
        return answer.json() if answer.content else None

    def summary(self, since: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/ops/summary", params=_present(since=since))
        return result

    def dead_letters(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/ops/dead-letters")
        return result

    def transactions(
        self, *, point: str | None = None, state: str | None = None, since: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of ``GET /ops/transactions``."""
        params = _present(point=point, state=state, since=since, limit=str(limit), cursor=cursor)
        result: dict[str, Any] = self._call("GET", "/ops/transactions", params=params)
        return result

    def find(
        self, *, point: str | None = None, state: str | None = None, since: str | None = None, limit: int = 50
    ) -> Iterator[dict[str, Any]]:
        """Up to ``limit`` transactions, following the cursor from page to page."""
        cursor: str | None = None
        remaining = limit
        while remaining > 0:
            page = self.transactions(point=point, state=state, since=since, limit=min(remaining, MAX_PAGE), cursor=cursor)
            items: list[dict[str, Any]] = page.get("items", [])
            yield from items[:remaining]
            remaining -= len(items)
            cursor = page.get("cursor")
            if not cursor or not items:
                return

    def transaction(self, point: str, transaction_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", transaction_path(point, transaction_id))
        return result

    def resubmit(self, point: str, transaction_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"{transaction_path(point, transaction_id)}/resubmission")
        return result

    def resubmit_matching(self, *, point: str | None, state: str, since: str | None, cursor: str | None = None) -> dict[str, Any]:
        body = {"state": state, **_present(point=point, since=since, cursor=cursor)}
        result: dict[str, Any] = self._call("POST", "/ops/transactions:resubmit", json=body)
        return result

    def cross_references(self, system: str, entity_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/ops/cross-references", params={"system": system, "id": entity_id})
        return result

    def import_cross_references(self, export_part: str) -> dict[str, Any]:
        """One part of Oracle's XREF_DATA export (CSV, whole entities) imported: the hub's report on its rows."""
        headers = {"content-type": "text/csv; charset=utf-8"}
        result: dict[str, Any] = self._call("POST", "/ops/cross-references:import", content=export_part.encode("utf-8"), headers=headers)
        return result

    def redrive(self, queue: str) -> dict[str, Any]:
        """Redrive the dead-letter queue ``<pack>/<queue>`` (as ``GET /ops/dead-letters`` names it) through its pack's route."""
        pack, separator, name = queue.partition("/")
        if not separator or not pack or not name or "/" in name:
            raise ApiError(400, "not a dead-letter queue", f"{queue!r} is not <pack>/<queue> as `utilhub status` lists them")
        result: dict[str, Any] = self._call("POST", f"/{quote(pack, safe='')}/dead-letters/{quote(name, safe='')}/redrive")
        return result


def _present(**values: str | None) -> dict[str, str]:
    return {name: value for name, value in values.items() if value is not None}


def local_deployment(
    hub_url: str, client_id: str = LOCAL_OPS_CLIENT, client_secret: str | None = None, aws_endpoint: str = LOCAL_AWS_ENDPOINT
) -> Deployment:
    """A hub that ``make run`` started at ``hub_url``: the local operators' client, the embedded AWS endpoint, and its
    resources as the control API (``/_local/resources``) names them."""
    import boto3

    api_url = hub_url.rstrip("/")

    def aws(service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=aws_endpoint,
            region_name=LOCAL_REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the embedded AWS takes any credentials
        )

    def resource(logical_id: str) -> str:
        answer = httpx.get(f"{api_url}/_local/resources", timeout=30)
        if not answer.is_success:
            raise ApiError.of(answer)
        resources: dict[str, str] = answer.json()
        if logical_id not in resources:
            raise ApiError(404, "no such resource", f"the local hub has no {logical_id}")
        return resources[logical_id]

    return Deployment(
        api_url=api_url,
        token_url=f"{api_url}/oauth2/token",
        client_id=client_id,
        client_secret=client_secret if client_secret is not None else f"{client_id}-local-secret",
        aws=aws,
        resource=resource,
    )


def stack_deployment(stack: str, region: str | None = None, *, clients: Callable[[str], Any] | None = None) -> Deployment:
    """A deployed hub by its CloudFormation stack: ``ApiUrl``, ``TokenUrl`` and ``OperatorClientId`` from its outputs,
    the operators' client secret from the stack's ``UserPool`` in Cognito. ``clients`` makes the boto3 clients
    (default: boto3's, with the usual credentials, in ``region``)."""
    if clients is None:
        import boto3

        session = boto3.session.Session(region_name=region)

        def clients(service: str) -> Any:
            return session.client(service)  # type: ignore[call-overload]

    make = clients
    cloudformation = make("cloudformation")
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [name for name in ("ApiUrl", "TokenUrl", "OperatorClientId") if name not in outputs]
    if missing:
        raise ApiError(404, "not a utilhub stack", f"stack {stack} has no output {', '.join(missing)}")

    def resource(logical_id: str) -> str:
        detail = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)["StackResourceDetail"]
        return str(detail["PhysicalResourceId"])

    pool = resource("UserPool")
    secret = make("cognito-idp").describe_user_pool_client(UserPoolId=pool, ClientId=outputs["OperatorClientId"])["UserPoolClient"][
        "ClientSecret"
    ]
    return Deployment(
        api_url=outputs["ApiUrl"].rstrip("/"),
        token_url=outputs["TokenUrl"],
        client_id=outputs["OperatorClientId"],
        client_secret=str(secret),
        aws=make,
        resource=resource,
    )


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)
