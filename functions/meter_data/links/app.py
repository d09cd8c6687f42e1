"""MD-21 navigation links between CCB and MDM objects, from the configured URL templates."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.billing_api import links_api
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return links_api.resolve(event, context)
