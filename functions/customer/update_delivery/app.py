"""CU-02 delivery: queued Siebel account updates applied to CCB, each customer's in order."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.customer.updates import deliver_batch
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return deliver_batch(event, context)
