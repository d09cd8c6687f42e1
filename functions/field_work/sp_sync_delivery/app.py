"""FW-06: delivers queued service point sync requests (SQS FIFO batch) to WAM/ODM and records the answer."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.wiring import sp_sync_delivery
from utilhub.platform.observability import logger, metrics, tracer

sp_sync_delivery.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return sp_sync_delivery(event, context)
