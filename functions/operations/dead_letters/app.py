"""Operators: every dead-letter queue's depth, and a redrive of one to the queue its messages came from."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.operations.wiring import dead_letters
from utilhub.platform.observability import logger, metrics, tracer

dead_letters.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dead_letters(event, context)
