"""OC-01 workflow steps in BRM: bill-to accounts, service accounts (paying hierarchy), billing profiles."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.order_to_cash.wiring import brm_steps
from utilhub.platform.observability import logger, metrics, tracer

brm_steps.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return brm_steps(event, context)
