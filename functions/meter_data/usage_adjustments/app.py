"""MD-17 usage adjustment request (self-service): CCB asks MDM to adjust an SA's usage, within the time budget."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import usage_adjustments
from utilhub.platform.observability import logger, metrics, tracer

usage_adjustments.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return usage_adjustments(event, context)
