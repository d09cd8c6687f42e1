"""Operators: every pack's transactions, their timelines and their resubmission; cross-references."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.operations.wiring import transactions
from utilhub.platform.observability import logger, metrics, tracer

transactions.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return transactions(event, context)
