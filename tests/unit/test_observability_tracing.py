"""The library's Tracer (utilhub.platform.observability): with tracing off a cold start does not import the
X-Ray SDK (about 300 ms of every handler's import), and the handlers it decorates run as before; with
tracing on, X-Ray records as before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from utilhub.platform.observability import tracer

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import sys, utilhub.platform.observability as o; print('aws_xray_sdk.core' in sys.modules, type(o.tracer.provider).__module__)"


def _probe(**environment: str) -> list[str]:
    """What a fresh interpreter (a cold start) imported: [X-Ray SDK core imported, the tracer's provider's module]."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_", "AWS_SAM"))}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)]), **environment)
    completed = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)  # noqa: S603
    return completed.stdout.split()


def test_a_cold_start_with_tracing_off_does_not_import_the_xray_sdk() -> None:
    imported, provider = _probe(POWERTOOLS_TRACE_DISABLED="true", LAMBDA_TASK_ROOT="/var/task")
    assert imported == "False"
    assert provider == "utilhub.platform.observability"


def test_a_cold_start_outside_lambda_does_not_import_the_xray_sdk() -> None:
    imported, _ = _probe()
    assert imported == "False"


def test_on_lambda_with_tracing_on_xray_records() -> None:
    imported, provider = _probe(LAMBDA_TASK_ROOT="/var/task")
    assert imported == "True"
    assert provider.startswith("aws_xray_sdk")


class _Context:
    function_name = "f"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"
    aws_request_id = "r"


def test_with_tracing_off_a_decorated_handler_answers_and_raises_as_undecorated() -> None:
    # Given a handler and a method decorated as the functions' are (tracing is off outside Lambda)
    @tracer.capture_method
    def double(value: int) -> int:
        return value * 2

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("fail"):
            raise ValueError("refused")
        return {"doubled": double(event["value"])}

    # Then it answers what it returns, and its error reaches the caller
    assert handler({"value": 21}, _Context()) == {"doubled": 42}
    with pytest.raises(ValueError, match="refused"):
        handler({"fail": True}, _Context())
