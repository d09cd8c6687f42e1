"""``utilhub console publish --stack NAME``: the web console's files (``console/``) and its ``config.json`` into a
deployed stack's console bucket, then a CloudFront invalidation so the distribution serves them at once.

``config.json`` is what the page reads first (``console/api.js``): the stack's API (``ApiUrl``), the user pool's
hosted UI (``AuthUrl``) and the console's public client (``ConsoleClientId``), with which operators sign in
(authorization code + PKCE). It holds no secret. A stack deployed with ``Console=false`` has no console outputs and
is refused."""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utilhub_cli.hub import ApiError

CONSOLE_DIRECTORY = Path(__file__).resolve().parent.parent / "console"
OUTPUTS = ("ApiUrl", "AuthUrl", "ConsoleUrl", "ConsoleBucketName", "ConsoleClientId", "ConsoleDistributionId")
# the page's files are small and change with a release: the browser asks again each time (CloudFront keeps them)
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class Published:
    url: str
    bucket: str
    files: list[str]
    invalidation: str


def stack_outputs(stack: str, cloudformation: Any) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [name for name in OUTPUTS if name not in outputs]
    if missing:
        raise ApiError(404, "no console in this stack", f"stack {stack} has no output {', '.join(missing)} (deployed with Console=false?)")
    return outputs


def console_config(outputs: dict[str, str]) -> dict[str, str]:
    """What the deployed page reads: where the API is and how operators sign in (no secret: a public client)."""
    return {
        "mode": "hosted-ui",
        "apiUrl": outputs["ApiUrl"].rstrip("/"),
        "authUrl": outputs["AuthUrl"].rstrip("/"),
        "clientId": outputs["ConsoleClientId"],
    }


def publish(stack: str, clients: Callable[[str], Any], directory: Path = CONSOLE_DIRECTORY) -> Published:
    outputs = stack_outputs(stack, clients("cloudformation"))
    s3 = clients("s3")
    bucket = outputs["ConsoleBucketName"]
    files = sorted(path for path in directory.iterdir() if path.is_file() and path.name != "config.json")
    for path in files:
        s3.put_object(
            Bucket=bucket,
            Key=path.name,
            Body=path.read_bytes(),
            ContentType=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            CacheControl=CACHE_CONTROL,
        )
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(console_config(outputs), indent=2).encode(),
        ContentType="application/json",
        CacheControl="no-store",
    )
    invalidation = clients("cloudfront").create_invalidation(
        DistributionId=outputs["ConsoleDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"utilhub-console-{time.time_ns()}"},
    )["Invalidation"]["Id"]
    return Published(outputs["ConsoleUrl"], bucket, [path.name for path in files] + ["config.json"], str(invalidation))
