"""MD-13, MD-16, MD-20 delivery: each relayed billing event reaches CCB or MDM once, retried by the queue while it is down."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.billing_relays import deliver_batch
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return deliver_batch(event, context)
