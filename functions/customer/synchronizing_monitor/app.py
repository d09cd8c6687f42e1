"""CU-01/CU-02: the schedule that gives up customers an order began to synchronize and never recorded."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.customer.wiring import synchronizing_monitor
from utilhub.platform.observability import logger, metrics, tracer

synchronizing_monitor.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return synchronizing_monitor(event, context)
