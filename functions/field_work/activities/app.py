"""FW-01 field activity creation, FW-02 update, cancel and completion events, and an activity's state."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.wiring import activities
from utilhub.platform.observability import logger, metrics, tracer

activities.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return activities(event, context)
