"""Powertools' batch processing of SQS records, for the functions that consume a queue.

Its import loads Powertools' parser models and event data classes, about a sixth of ``import boto3``'s time on top
of what a handler loads anyway (docs/performance.md), so only the functions that consume a queue load it: the
modules that process a batch import this one in the function that does, and the wiring entry of each consumer
imports it when it builds (at init, as every invocation of the consumer uses it). Nothing else imports it
(``tests/unit/test_cold_start_imports.py``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

__all__ = ["BatchProcessingError", "BatchProcessor", "EventType", "SqsFifoPartialProcessor", "process_partial_response", "processor_for"]


def processor_for(event: dict[str, Any]) -> BatchProcessor:
    """A batch from a FIFO queue stops a group at its first failure (its later events are handed back, not delivered
    ahead of it); one from a standard queue delivers every record it can."""
    records = event.get("Records") or [{}]
    if str(records[0].get("eventSourceARN", "")).endswith(".fifo"):
        return SqsFifoPartialProcessor(skip_group_on_error=True)
    return BatchProcessor(event_type=EventType.SQS)
