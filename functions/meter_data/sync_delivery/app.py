"""Delivers queued CCB -> MDM sync requests (SQS FIFO batch) and records MDM's acknowledgement."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import sync_delivery
from utilhub.platform.observability import logger, metrics, tracer

sync_delivery.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return sync_delivery(event, context)
