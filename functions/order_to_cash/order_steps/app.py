"""OC-01 workflow steps without BRM: collate the order's lines, summarize the outcome."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.order_to_cash.wiring import order_steps
from utilhub.platform.observability import logger, metrics, tracer

order_steps.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return order_steps(event, context)
