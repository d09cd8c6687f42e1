"""MD-13, MD-16, MD-20 delivery: each relayed billing event reaches CCB or MDM once, retried by the queue while it is down."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import billing_event_delivery
from utilhub.platform.observability import logger, metrics, tracer

billing_event_delivery.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return billing_event_delivery(event, context)
