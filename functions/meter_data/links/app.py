"""MD-21 navigation links between CCB and MDM objects, from the configured URL templates."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import links
from utilhub.platform.observability import logger, metrics, tracer

links.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return links(event, context)
