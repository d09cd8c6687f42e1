"""MD-19 SA activation bill cycle request: CCB asks MDM the bill cycle of the SA's service point, within the time budget."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.billing_api import bill_cycle_api
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return bill_cycle_api.resolve(event, context)
