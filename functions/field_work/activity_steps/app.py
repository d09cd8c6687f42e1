"""FW-01 workflow steps: create the activity in a routed system, cancel it there (compensation), finish."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.wiring import activity_steps
from utilhub.platform.observability import logger, metrics, tracer

activity_steps.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return activity_steps(event, context)
