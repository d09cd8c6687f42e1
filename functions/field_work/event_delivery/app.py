"""FW-02 delivery: an activity's events forwarded to every other system linked to it, in order."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.wiring import event_delivery
from utilhub.platform.observability import logger, metrics, tracer

event_delivery.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return event_delivery(event, context)
