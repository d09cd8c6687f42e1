"""FW-06: CCB posts service point sync requests for WAM/ODM (JSON or CCB XML); query, acknowledge, resubmit."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.sp_sync_api import resolve
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(event, context)
