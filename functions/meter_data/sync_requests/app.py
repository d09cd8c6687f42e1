"""MD-01..10, MD-18: CCB posts sync requests to MDM (JSON or CCB XML); query, acknowledge, resubmit."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.api import api
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return api.resolve(event, context)
