"""The one Logger, Tracer and Metrics set of the library (Powertools).

Service name and metrics namespace are ``utilhub`` (every metric's name, dimensions and use: docs/metrics.md). Log structured keys only: ids, counts, statuses;
never a whole event, a message body, or personal data. An exception is logged with its message as
:func:`utilhub.platform.reasons.loggable` gives it (a validation error's fields and rules, never its values).
"""

from __future__ import annotations

import numbers
import traceback
import uuid
from collections.abc import AsyncGenerator, Generator, Sequence
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from utilhub.platform.reasons import loggable


class ValuesWithheldFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with an exception's message as :func:`~utilhub.platform.reasons.loggable` says: a
    pydantic error's ``str()`` quotes every refused value, and any other error may quote what it was given."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(serialize_stacktrace=False, **kwargs)  # its frames' "value" is the raw str(exc)

    def formatException(self, ei: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]) -> str:
        exc = ei[1]
        chain: list[BaseException] = []
        while exc is not None and exc not in chain:
            chain.append(exc)
            exc = exc.__cause__ if exc.__cause__ is not None else (None if exc.__suppress_context__ else exc.__context__)
        lines: list[str] = []
        for link in reversed(chain):
            lines += ["Traceback (most recent call last):\n", *traceback.format_tb(link.__traceback__)]
            lines.append(f"{type(link).__module__}.{type(link).__qualname__}: {loggable(link)}\n")
        return "".join(lines).rstrip("\n")


class _UnrecordedSegment(BaseSegment):
    """A segment of a trace that is not recorded: tracing is off."""

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False) -> None:
        return None


class TracingOff(BaseProvider):
    """The Tracer's provider when tracing is off (``POWERTOOLS_TRACE_DISABLED``, or outside Lambda): it records
    nothing, as X-Ray's recorder does when disabled, and spares the cold start the X-Ray SDK's import (about
    300 ms), which Powertools makes to build its default provider even when tracing is off."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment]:
        yield _UnrecordedSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncGenerator[BaseSegment]:
        yield _UnrecordedSegment()

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


logger = Logger(service="utilhub", logger_formatter=ValuesWithheldFormatter())
# Powertools decides whether tracing is on (its own rule, from the environment Lambda gives the function)
tracer = Tracer(service="utilhub", provider=TracingOff() if Tracer._is_tracer_disabled() else None)
NAMESPACE = "utilhub"
metrics = Metrics(namespace=NAMESPACE, service="utilhub")

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
