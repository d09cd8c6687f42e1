"""DA-01 initial synchronization: the plan, part and join steps of the Distributed Map state machine."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.dacs.wiring import initial_sync
from utilhub.platform.observability import logger, metrics, tracer

initial_sync.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return initial_sync(event, context)
