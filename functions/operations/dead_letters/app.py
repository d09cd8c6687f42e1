"""Operators: every dead-letter queue's depth, and a redrive of one to the queue its messages came from."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.operations.api import api
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return api.resolve(event, context)
