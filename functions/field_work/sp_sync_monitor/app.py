"""FW-06 deferred sync request monitor, CCB -> WAM/ODM service points: runs on the template's schedule."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.sp_sync import run_monitor
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return run_monitor(event)
