"""MD-11: the schedule that queues usage requests AWAITING_DATA_SYNC once their SA's data is synchronized to MDM."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import usage_release
from utilhub.platform.observability import logger, metrics, tracer

usage_release.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return usage_release(event, context)
