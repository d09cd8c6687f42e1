"""OC-01 intake (OSM posts a fulfillment order revision) and OC-02 (its status and result)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.order_to_cash.wiring import fulfillment_orders
from utilhub.platform.observability import logger, metrics, tracer

fulfillment_orders.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return fulfillment_orders(event, context)
