"""MD-19 SA activation bill cycle request: CCB asks MDM the bill cycle of the SA's service point, within the time budget."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import bill_cycle_requests
from utilhub.platform.observability import logger, metrics, tracer

bill_cycle_requests.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return bill_cycle_requests(event, context)
