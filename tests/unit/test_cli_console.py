"""``utilhub console publish`` (utilhub_cli.console): a stack's console outputs read, every file of console/ and a
config.json naming the stack's API, hosted UI and public client put in its bucket with their content types, the
distribution invalidated; a stack without a console refused. No AWS: boto3's own Stubber answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from utilhub_cli.console import CONSOLE_DIRECTORY, OUTPUTS, publish
from utilhub_cli.hub import ApiError

OUTPUT_VALUES = {
    "ApiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com",
    "AuthUrl": "https://utilhub-prod-1.auth.eu-west-1.amazoncognito.com",
    "ConsoleUrl": "https://d111.cloudfront.net/",
    "ConsoleBucketName": "utilhub-prod-consolebucket-1",
    "ConsoleClientId": "console-client",
    "ConsoleDistributionId": "E2DIST",
    "TokenUrl": "https://utilhub-prod-1.auth.eu-west-1.amazoncognito.com/oauth2/token",
}


def client(service: str) -> Any:
    return boto3.client(service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")  # type: ignore[call-overload]


def described(outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "utilhub-prod",
                "CreationTime": "2026-12-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def test_publishing_puts_every_console_file_and_a_config_of_the_stack_then_invalidates_the_distribution() -> None:
    # Given a stack deployed with its console, and the files of console/
    cloudformation, s3, cloudfront = client("cloudformation"), client("s3"), client("cloudfront")
    files = sorted(path for path in CONSOLE_DIRECTORY.iterdir() if path.is_file())
    assert {"index.html", "app.js", "api.js", "draw.js", "console.css"} <= {path.name for path in files}
    put: list[dict[str, Any]] = []
    s3.meta.events.register("provide-client-params.s3.PutObject", lambda params, **_: put.append(dict(params)))
    with Stubber(cloudformation) as cfn, Stubber(s3) as bucket, Stubber(cloudfront) as cdn:
        cfn.add_response("describe_stacks", described(OUTPUT_VALUES), {"StackName": "utilhub-prod"})
        for _ in [*files, "config.json"]:
            bucket.add_response(
                "put_object",
                {},
                {"Bucket": "utilhub-prod-consolebucket-1", "Key": ANY, "Body": ANY, "ContentType": ANY, "CacheControl": ANY},
            )
        cdn.add_response(
            "create_invalidation",
            {
                "Invalidation": {
                    "Id": "I1",
                    "Status": "InProgress",
                    "CreateTime": "2026-12-07T00:00:00Z",
                    "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "r"},
                }
            },
            {"DistributionId": "E2DIST", "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": ANY}},
        )

        # When the console is published to it
        published = publish("utilhub-prod", {"cloudformation": cloudformation, "s3": s3, "cloudfront": cloudfront}.__getitem__)

        # Then every file went to the bucket with its content type, then config.json, and the distribution was invalidated
        bucket.assert_no_pending_responses()
        cdn.assert_no_pending_responses()
    types = {call["Key"]: call["ContentType"] for call in put}
    assert types == {
        **{path.name: {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}[path.suffix] for path in files},
        "config.json": "application/json",
    }
    config = json.loads(next(call["Body"] for call in put if call["Key"] == "config.json"))
    assert config == {
        "mode": "hosted-ui",
        "apiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com",
        "authUrl": "https://utilhub-prod-1.auth.eu-west-1.amazoncognito.com",
        "clientId": "console-client",
    }
    assert (published.url, published.invalidation) == ("https://d111.cloudfront.net/", "I1")
    assert published.files[-1] == "config.json"


def test_a_stack_deployed_without_its_console_is_refused(tmp_path: Path) -> None:
    # Given a stack deployed with Console=false (no console outputs)
    cloudformation = client("cloudformation")
    without = {k: v for k, v in OUTPUT_VALUES.items() if not k.startswith("Console")}
    with Stubber(cloudformation) as cfn:
        cfn.add_response("describe_stacks", described(without), {"StackName": "utilhub-prod"})

        # When the console is published to it, Then it is refused naming what is missing, and nothing is uploaded
        with pytest.raises(ApiError, match="ConsoleUrl, ConsoleBucketName, ConsoleClientId, ConsoleDistributionId"):
            publish("utilhub-prod", {"cloudformation": cloudformation}.__getitem__, tmp_path)
    assert set(OUTPUTS) >= {"ConsoleBucketName", "ConsoleDistributionId"}
