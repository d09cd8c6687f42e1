"""FW-06: delivers queued service point sync requests (SQS FIFO batch) to WAM/ODM and records the answer."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.sp_sync import deliver_batch
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return deliver_batch(event, context)
