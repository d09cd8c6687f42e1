"""DA-01 initial synchronization: the plan, part and join steps of the Distributed Map state machine."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.dacs.wiring import run_initial_sync_step
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return run_initial_sync_step(event)
