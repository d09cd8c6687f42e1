"""MD-01..10, MD-18: CCB posts sync requests to MDM (JSON or CCB XML); query, acknowledge, resubmit."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import sync_requests
from utilhub.platform.observability import logger, metrics, tracer

sync_requests.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return sync_requests(event, context)
