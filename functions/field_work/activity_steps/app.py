"""FW-01 workflow steps: create the activity in a routed system, cancel it there (compensation), finish."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.handlers import run_workflow_step
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return run_workflow_step(event, context)
