"""MD-13 replacement reads and MD-20 bill cycle changes from MDM, MD-16 bill status from CCB: accepted, then relayed."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.billing_api import relay_api
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return relay_api.resolve(event, context)
