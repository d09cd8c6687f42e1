"""CU-01/CU-02: the schedule that gives up customers an order began to synchronize and never recorded."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.customer.customers import end_overdue_synchronizations
from utilhub.packs.customer.wiring import customer_store
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return end_overdue_synchronizations(customer_store())
