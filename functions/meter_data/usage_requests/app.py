"""MD-11 batch bill determinants: CCB's bill run posts usage requests (single or batch of 1,000); their state."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import usage_requests
from utilhub.platform.observability import logger, metrics, tracer

usage_requests.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return usage_requests(event, context)
