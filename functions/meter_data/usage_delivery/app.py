"""MD-11: each queued usage request - MDM's bill determinants, delivered to CCB once (partial batch response)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.usage_requests import deliver_batch
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return deliver_batch(event, context)
