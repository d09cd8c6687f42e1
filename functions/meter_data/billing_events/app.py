"""MD-13 replacement reads and MD-20 bill cycle changes from MDM, MD-16 bill status from CCB: accepted, then relayed."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import billing_events
from utilhub.platform.observability import logger, metrics, tracer

billing_events.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return billing_events(event, context)
