"""Throttling of the AWS calls that functions make, for fault runs.

A share of the calls the library makes from inside a function (DynamoDB, SQS, Secrets Manager,
Step Functions) fail as AWS fails them when a table or an account is over its rate, and as they
look once boto3's own retries are spent: a ``ClientError`` with a throttling code. The choice is
drawn from a seeded generator, so a run that invokes functions in the same order is the same run.

The hook sits on the library's boto3 session (``utilhub.platform.aws.session``) as a
``before-call`` handler, so calls of the runtime itself (pollers, the tests' own boto3 calls,
moto's interpreter) are never throttled.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

from localhub.aws.session_hooks import SessionHook

# The code each service answers a throttled call with.
THROTTLING_CODES = {"dynamodb": "ProvisionedThroughputExceededException"}
DEFAULT_CODE = "ThrottlingException"


def per_operation(counts: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
    """``{(function, operation): count}`` as the control API lists it."""
    return [{"function": f, "operation": op, "count": n} for (f, op), n in sorted(counts.items())]


class AwsThrottling(SessionHook):
    """``rate`` (0..1) of the functions' AWS calls to ``services`` (all when empty) are throttled; with
    ``operations`` (``"dynamodb.TransactWriteItems"``), only calls of those operations. Every call it sees
    is counted per function and operation (``seen``), so a rate of 0 counts the calls and throttles none."""

    event = "before-call"
    unique_id = "localhub-aws-throttling"

    def __init__(
        self, rate: float, *, seed: int = 0, services: frozenset[str] = frozenset(), operations: frozenset[str] = frozenset()
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self.rate = rate
        self.services = services
        self.operations = operations
        self.throttled: Counter[tuple[str, str]] = Counter()  # (function, service.operation) -> calls throttled
        self.seen: Counter[tuple[str, str]] = Counter()  # (function, service.operation) -> calls made (rate 0: only counted)
        self.calls = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rate": self.rate,
                "services": sorted(self.services),
                "operations": sorted(self.operations),
                "calls": self.calls,
                "seen": per_operation(self.seen),
                "throttled": per_operation(self.throttled),
            }

    def _on_call(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        service = model.service_model.service_name
        if function is None or (self.services and service not in self.services):
            return None
        operation = f"{service}.{model.name}"
        if self.operations and operation not in self.operations:
            return None
        with self._lock:
            self.calls += 1
            self.seen[(function, operation)] += 1
            if self._random.random() >= self.rate:
                return None
            self.throttled[(function, operation)] += 1
        code = THROTTLING_CODES.get(service, DEFAULT_CODE)
        http = AWSResponse(url="", status_code=400, headers=HTTPHeaders(), raw=None)
        return http, {
            "Error": {"Code": code, "Message": "Rate exceeded (injected by the local runtime)"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
