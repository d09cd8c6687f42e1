"""FW-03 appointments, FW-04 meter and item validation, FW-08 service point query, FW-09 installed assets."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.wiring import queries
from utilhub.platform.observability import logger, metrics, tracer

queries.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return queries(event, context)
