"""DA-04: DACS's acknowledgements of incremental records passed on to CCB, once each (when configured)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.dacs.notifications import deliver_batch
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return deliver_batch(event, context)
