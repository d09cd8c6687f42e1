"""FW-02 delivery: an activity's events forwarded to every other system linked to it, in order."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.handlers import deliver_events
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return deliver_events(event, context)
