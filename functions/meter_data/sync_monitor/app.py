"""Deferred sync request monitor, CCB -> MDM: runs on the template's schedule."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.sync import run_monitor
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return run_monitor(event)
