"""The one Logger, Tracer and Metrics set of the library (Powertools).

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE``. Log structured keys only: ids, counts, statuses;
never a whole event, a message body, or personal data.
"""

from __future__ import annotations

import uuid

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="utilhub")
tracer = Tracer(service="utilhub")
metrics = Metrics(namespace="utilhub", service="utilhub")

CORRELATION_HEADER = "X-Correlation-Id"

__all__ = ["CORRELATION_HEADER", "MetricUnit", "correlation_id", "logger", "metrics", "tracer", "use_correlation_id"]


def use_correlation_id(value: str | None) -> str:
    """Carry ``value`` (or a new id when absent) in every log line from now on, and return it."""
    cid = value if value and _is_safe_id(value) else str(uuid.uuid4())
    logger.set_correlation_id(cid)
    return cid


def correlation_id() -> str:
    """The correlation id of the work in hand (a new one if none was set)."""
    current = logger.get_correlation_id()
    return current if isinstance(current, str) and current else use_correlation_id(None)


def _is_safe_id(value: str) -> bool:
    # ASCII only: the id is echoed in a response header and written into other systems' messages
    return 0 < len(value) <= 128 and all((c.isascii() and c.isalnum()) or c in "-_.:" for c in value)
