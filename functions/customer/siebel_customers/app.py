"""Siebel Energy -> CCB: orders' billing accounts become customers (CU-01), account updates in (CU-02)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.customer.wiring import siebel_customers
from utilhub.platform.observability import logger, metrics, tracer

siebel_customers.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return siebel_customers(event, context)
