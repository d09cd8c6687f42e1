"""CU-02 delivery: queued Siebel account updates applied to CCB, each customer's in order."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.customer.wiring import update_delivery
from utilhub.platform.observability import logger, metrics, tracer

update_delivery.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return update_delivery(event, context)
