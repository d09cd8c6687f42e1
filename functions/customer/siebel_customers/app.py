"""Siebel Energy -> CCB: orders' billing accounts become customers (CU-01), account updates in (CU-02)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.customer.api import api
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return api.resolve(event, context)
