"""The ``utilhub`` CLI's requests and what it prints, against an in-process transport that checks each request (path,
query, escaping, token) and answers in the operations API's contract (docs/operations.md#cli)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner, Result

from utilhub_cli.app import Context, cli
from utilhub_cli.hub import ApiError, Deployment, local_deployment, stack_deployment

API = "http://hub.test"
TOKEN = "token-of-ops"


@dataclass
class FakeHub:
    """Answers the token endpoint for the ops client and each operations route through ``routes`` (method, path) ->
    answer; records every request of the API."""

    routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]]
    requests: list[httpx.Request] = field(default_factory=list)
    tokens: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            assert request.method == "POST"
            assert request.headers["authorization"] == httpx.BasicAuth("ops", "ops-local-secret")._auth_header
            assert request.content == b"grant_type=client_credentials"
            self.tokens += 1
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        self.requests.append(request)
        raw_path = request.url.raw_path.decode().partition("?")[0]
        answer = self.routes.get((request.method, raw_path))
        if answer is None:
            return httpx.Response(404, json={"type": "about:blank", "title": "Not Found", "status": 404})
        return answer(request)


def run(hub: FakeHub, *args: str) -> Result:
    deployment = local_deployment(API)
    context = Context(connect=lambda: deployment, transport=httpx.MockTransport(hub))
    return CliRunner().invoke(cli, list(args), obj=context, catch_exceptions=False)


def answer(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(status, json=body)


def problem(status: int, title: str, detail: str) -> Callable[[httpx.Request], httpx.Response]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return lambda _request: httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def test_find_follows_the_cursor_with_the_filter_and_prints_point_id_state_reason_as_json() -> None:
    # Given a hub with three failed OC-01 transactions over two pages
    pages = {
        None: {
            "items": [
                {"point": "OC-01", "id": "ORD-1/2", "state": "FAILED", "reason": "TargetUnavailable", "updatedAt": "2026-12-07T05:00:00Z"},
                {"point": "OC-01", "id": "ORD-2/1", "state": "FAILED", "reason": "TargetUnavailable", "updatedAt": "2026-12-07T04:00:00Z"},
            ],
            "cursor": "c2",
        },
        "c2": {
            "items": [{"point": "OC-01", "id": "ORD-3/1", "state": "FAILED", "reason": "BRM refused", "updatedAt": "2026-12-07T03:00:00Z"}]
        },
    }
    hub = FakeHub({("GET", "/ops/transactions"): lambda request: httpx.Response(200, json=pages[request.url.params.get("cursor")])})

    # When an operator finds the failed OC-01 transactions since this morning
    result = run(hub, "find", "--point", "OC-01", "--state", "failed", "--since", "2026-12-07T00:00:00Z", "--json")

    # Then both pages were read with the filter, the second with the first's cursor, one token for both
    assert result.exit_code == 0, result.output
    assert [dict(r.url.params) for r in hub.requests] == [
        {"point": "OC-01", "state": "FAILED", "since": "2026-12-07T00:00:00Z", "limit": "50"},
        {"point": "OC-01", "state": "FAILED", "since": "2026-12-07T00:00:00Z", "limit": "48", "cursor": "c2"},
    ]
    assert hub.tokens == 1
    # And the JSON is the list of {point, id, state, reason}
    assert json.loads(result.output) == [
        {"point": "OC-01", "id": "ORD-1/2", "state": "FAILED", "reason": "TargetUnavailable"},
        {"point": "OC-01", "id": "ORD-2/1", "state": "FAILED", "reason": "TargetUnavailable"},
        {"point": "OC-01", "id": "ORD-3/1", "state": "FAILED", "reason": "BRM refused"},
    ]


def test_find_stops_at_its_limit_without_reading_further_pages() -> None:
    # Given pages of two transactions, each with a cursor to more
    item = {"point": "MD-01", "id": "SR-1", "state": "COMPLETED", "reason": None, "updatedAt": "2026-12-07T05:00:00Z"}
    hub = FakeHub({("GET", "/ops/transactions"): answer(200, {"items": [item, item], "cursor": "more"})})

    # When an operator asks for three, as a table
    result = run(hub, "find", "--limit", "3")

    # Then two pages are read, the second asking for the one still wanted, and the table counts three
    assert result.exit_code == 0, result.output
    assert [r.url.params["limit"] for r in hub.requests] == ["3", "1"]
    assert "3 transaction(s)" in result.output
    assert "MD-01" in result.output
    assert "COMPLETED" in result.output


def test_trace_escapes_an_id_holding_a_slash_and_prints_the_timeline() -> None:
    # Given an order revision ORD-1/2 failed at BRM, then resubmitted
    transaction = {
        "point": "OC-01",
        "id": "ORD-1/2",
        "state": "FAILED",
        "detailState": "FAILED",
        "reason": "TargetUnavailable",
        "updatedAt": "2026-12-07T05:00:03Z",
        "timeline": [
            {"at": "2026-12-07T05:00:00Z", "step": "intake", "system": "OSM", "outcome": "ACCEPTED", "detail": "revision 2"},
            {"at": "2026-12-07T05:00:02Z", "step": "CreateAccount", "system": "BRM", "outcome": "FAILED", "detail": "attempt 3: 503"},
        ],
    }
    hub = FakeHub({("GET", "/ops/transactions/OC-01/ORD-1%2F2"): answer(200, transaction)})

    # When the operator traces it, as a table and as JSON
    table = run(hub, "trace", "OC-01", "ORD-1/2")
    as_json = run(hub, "trace", "OC-01", "ORD-1/2", "--json")

    # Then the id went as one path segment, and the table has every hop
    assert table.exit_code == 0, table.output
    assert [r.url.raw_path for r in hub.requests] == [b"/ops/transactions/OC-01/ORD-1%2F2"] * 2
    for text in ("OC-01 ORD-1/2", "reason: TargetUnavailable", "CreateAccount", "BRM", "attempt 3: 503", "intake", "OSM"):
        assert text in table.output
    # And the JSON is the transaction with its timeline, as the API answered it
    assert json.loads(as_json.output) == transaction


def test_trace_of_an_unknown_transaction_exits_1_with_the_problem() -> None:
    hub = FakeHub({("GET", "/ops/transactions/MD-01/SR-404"): problem(404, "Not Found", "No transaction SR-404 of MD-01.")})

    result = run(hub, "trace", "MD-01", "SR-404")

    assert result.exit_code == 1
    assert "404 Not Found: No transaction SR-404 of MD-01." in result.output


def test_resubmit_one_transaction_posts_its_resubmission() -> None:
    # Given a failed activity CCB/A-1 of FW-01
    hub = FakeHub(
        {("POST", "/ops/transactions/FW-01/CCB%2FA-1/resubmission"): answer(202, {"point": "FW-01", "id": "CCB/A-1", "state": "IN_FLIGHT"})}
    )

    # When the operator resubmits it
    result = run(hub, "resubmit", "FW-01", "CCB/A-1", "--json")

    # Then the resubmission was posted to its escaped path, and its answer printed
    assert result.exit_code == 0, result.output
    assert [(r.method, r.url.raw_path) for r in hub.requests] == [("POST", b"/ops/transactions/FW-01/CCB%2FA-1/resubmission")]
    assert json.loads(result.output) == {"point": "FW-01", "id": "CCB/A-1", "state": "IN_FLIGHT"}


def test_resubmitting_a_transaction_that_did_not_fail_is_refused_with_exit_1() -> None:
    hub = FakeHub({("POST", "/ops/transactions/OC-01/ORD-9%2F1/resubmission"): problem(409, "Conflict", "ORD-9/1 is COMPLETED.")})

    result = run(hub, "resubmit", "OC-01", "ORD-9/1")

    assert result.exit_code == 1
    assert "409 Conflict: ORD-9/1 is COMPLETED." in result.output


def test_bulk_resubmit_sends_the_filter_and_prints_the_counts() -> None:
    # Given failed transactions of MD-11, one of them refused by its pack
    refused = {"point": "MD-11", "id": "UR-9", "status": 409, "reason": "UR-9 is COMPLETED."}
    hub = FakeHub({("POST", "/ops/transactions:resubmit"): answer(202, {"resubmitted": 7, "refused": [refused], "failed": []})})

    # When the operator resubmits every failed one since a time
    result = run(hub, "resubmit", "--point", "MD-11", "--state", "FAILED", "--since", "2026-12-07T00:00:00Z")
    as_json = run(hub, "resubmit", "--state", "FAILED", "--json")

    # Then the filter is the body, and the counts and the refused with their reason are printed
    assert result.exit_code == 0, result.output
    assert [json.loads(r.content) for r in hub.requests] == [
        {"point": "MD-11", "state": "FAILED", "since": "2026-12-07T00:00:00Z"},
        {"state": "FAILED"},
    ]
    assert "resubmitted 7, refused 1, failed 0" in result.output
    assert "refused MD-11 UR-9: 409 UR-9 is COMPLETED." in result.output
    assert json.loads(as_json.output) == {"resubmitted": 7, "refused": [refused], "failed": []}


def test_bulk_resubmit_cut_short_by_the_calls_time_goes_on_from_its_cursor_and_a_failed_one_exits_1() -> None:
    # Given a filter matching more failed transactions than one call of the API had time for: the first call
    # gives a cursor past those it tried, the second ends with one whose pack's route failed
    failed = {"point": "OC-01", "id": "ORD-1/1", "status": 502, "reason": "The pack's resubmission answered 500."}
    answers = iter(
        [
            httpx.Response(202, json={"resubmitted": 40, "refused": [], "failed": [], "remaining": True, "cursor": "c-40"}),
            httpx.Response(202, json={"resubmitted": 2, "refused": [], "failed": [failed]}),
        ]
    )
    hub = FakeHub({("POST", "/ops/transactions:resubmit"): lambda _: next(answers)})

    # When the operator resubmits them
    result = run(hub, "resubmit", "--state", "FAILED")

    # Then the second call continues from the first's cursor, the totals and the failed one are printed, and the
    # exit status says not everything was resubmitted
    assert [json.loads(r.content) for r in hub.requests] == [{"state": "FAILED"}, {"state": "FAILED", "cursor": "c-40"}]
    assert "resubmitted 42, refused 0, failed 1" in result.output
    assert "failed  OC-01 ORD-1/1: 502 The pack's resubmission answered 500." in result.output
    assert result.exit_code == 1


@pytest.mark.parametrize(
    "args", [["resubmit"], ["resubmit", "OC-01"], ["resubmit", "OC-01", "ORD-1/1", "--state", "FAILED"]], ids=["nothing", "no-id", "both"]
)
def test_resubmit_without_one_transaction_or_a_filter_is_a_usage_error(args: list[str]) -> None:
    hub = FakeHub({})

    result = run(hub, *args)

    assert result.exit_code == 2
    assert hub.requests == []


def test_status_prints_each_point_and_each_dead_letter_queue() -> None:
    summary = {
        "since": "2026-12-06T05:00:00Z",
        "points": [
            {"point": "OC-01", "received": 12, "completed": 10, "failed": 1, "inFlight": 1, "oldestWaiting": "2026-12-07T04:59:00Z"},
            {"point": "MD-01", "received": 40, "completed": 40, "failed": 0, "inFlight": 0, "oldestWaiting": None},
        ],
    }
    dead_letters = {"items": [{"queue": "field-work/relay", "messages": 3, "inFlight": 0, "oldestAt": "2026-12-07T01:00:00Z"}]}
    hub = FakeHub({("GET", "/ops/summary"): answer(200, summary), ("GET", "/ops/dead-letters"): answer(200, dead_letters)})

    table = run(hub, "status", "--since", "2026-12-06T05:00:00Z")
    as_json = run(hub, "status", "--json")

    assert table.exit_code == 0, table.output
    assert dict(hub.requests[0].url.params) == {"since": "2026-12-06T05:00:00Z"}
    assert dict(hub.requests[2].url.params) == {}
    for text in ("OC-01", "MD-01", "2026-12-07T04:59:00Z", "field-work/relay", "2026-12-07T01:00:00Z"):
        assert text in table.output
    assert json.loads(as_json.output) == {"summary": summary, "deadLetters": dead_letters}


def test_xref_asks_by_system_and_id_and_prints_every_system() -> None:
    ids = {"system": "SEBL", "id": "1-ABC", "ids": {"SEBL": "1-ABC", "CCB": "P-0042", "BRM": "0.0.0.1 /account 9"}}
    hub = FakeHub({("GET", "/ops/cross-references"): answer(200, ids)})

    table = run(hub, "xref", "SEBL", "1-ABC")
    as_json = run(hub, "xref", "SEBL", "1-ABC", "--json")

    assert table.exit_code == 0, table.output
    assert dict(hub.requests[0].url.params) == {"system": "SEBL", "id": "1-ABC"}
    for text in ("P-0042", "0.0.0.1 /account 9", "CCB", "BRM"):
        assert text in table.output
    assert json.loads(as_json.output) == ids


def test_redrive_posts_to_the_pack_route_of_the_queue() -> None:
    hub = FakeHub(
        {("POST", "/field-work/dead-letters/relay/redrive"): answer(202, {"queue": "field-work/relay", "taskHandle": "t-1", "messages": 3})}
    )

    result = run(hub, "redrive", "field-work/relay")

    assert result.exit_code == 0, result.output
    assert "redriving 3 message(s) of field-work/relay (task t-1)" in result.output


@pytest.mark.parametrize("queue", ["relay", "field-work/", "field-work/relay/x"])
def test_redrive_of_a_queue_not_named_pack_slash_queue_calls_nothing(queue: str) -> None:
    hub = FakeHub({})

    result = run(hub, "redrive", queue)

    assert result.exit_code == 1
    assert "not a dead-letter queue" in result.output
    assert hub.requests == []


def test_a_refused_token_is_told_and_no_route_is_called() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(401, json={"error": "invalid_client"})
        raise AssertionError("called a route without a token")

    context = Context(connect=lambda: local_deployment(API, client_secret="wrong"), transport=httpx.MockTransport(refuse))
    result = CliRunner().invoke(cli, ["find"], obj=context, catch_exceptions=False)

    assert result.exit_code == 1
    assert "401 no token for the operators' client" in result.output


def test_a_stack_gives_its_api_token_url_operator_client_and_secret() -> None:
    # Given a deployed stack's outputs and its user pool's operators' client
    cloudformation = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    cognito = boto3.client("cognito-idp", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    outputs = {
        "ApiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com",
        "TokenUrl": "https://d.auth.eu-west-1.amazoncognito.com/oauth2/token",
    }
    with Stubber(cloudformation) as cfn, Stubber(cognito) as idp:
        cfn.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "utilhub-prod",
                        "CreationTime": "2026-12-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in {**outputs, "OperatorClientId": "op-client"}.items()],
                    }
                ]
            },
            {"StackName": "utilhub-prod"},
        )
        cfn.add_response(
            "describe_stack_resource",
            {
                "StackResourceDetail": {
                    "LogicalResourceId": "UserPool",
                    "PhysicalResourceId": "eu-west-1_Pool",
                    "ResourceType": "AWS::Cognito::UserPool",
                    "LastUpdatedTimestamp": "2026-12-01T00:00:00Z",
                    "ResourceStatus": "CREATE_COMPLETE",
                }
            },
            {"StackName": "utilhub-prod", "LogicalResourceId": "UserPool"},
        )
        idp.add_response(
            "describe_user_pool_client",
            {
                "UserPoolClient": {
                    "ClientId": "op-client",
                    "ClientSecret": "operator-secret-0123456789abcdef",
                    "UserPoolId": "eu-west-1_Pool",
                }
            },
            {"UserPoolId": "eu-west-1_Pool", "ClientId": "op-client"},
        )
        clients = {"cloudformation": cloudformation, "cognito-idp": cognito}

        # When the CLI connects to the stack
        deployment = stack_deployment("utilhub-prod", clients=clients.__getitem__)

    # Then it calls the stack's API with the operators' client and its secret
    assert (deployment.api_url, deployment.token_url, deployment.client_id, deployment.client_secret) == (
        outputs["ApiUrl"],
        outputs["TokenUrl"],
        "op-client",
        "operator-secret-0123456789abcdef",
    )


def test_a_stack_without_the_hubs_outputs_is_refused() -> None:
    cloudformation = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cloudformation) as cfn:
        cfn.add_response(
            "describe_stacks",
            {"Stacks": [{"StackName": "other", "CreationTime": "2026-12-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE", "Outputs": []}]},
        )
        with pytest.raises(ApiError, match="no output ApiUrl, TokenUrl, OperatorClientId"):
            stack_deployment("other", clients={"cloudformation": cloudformation}.__getitem__)


def test_the_console_script_utilhub_is_the_clis_entry() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    module, _, name = project["project"]["scripts"]["utilhub"].partition(":")
    assert getattr(import_module(module), name).__module__ == "utilhub_cli.app"
    # and its libraries are not the Lambda layer's
    layer = (Path(__file__).parents[2] / "layers/common/requirements.txt").read_text()
    assert not {line.split("==")[0] for line in layer.splitlines()} & {"click", "rich"}


def test_a_deployment_is_what_the_commands_are_given() -> None:
    deployment = local_deployment("http://127.0.0.1:3000/")
    assert isinstance(deployment, Deployment)
    assert (deployment.api_url, deployment.token_url, deployment.client_id, deployment.client_secret) == (
        "http://127.0.0.1:3000",
        "http://127.0.0.1:3000/oauth2/token",
        "ops",
        "ops-local-secret",
    )
