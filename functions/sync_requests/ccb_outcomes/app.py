"""MD-01..10/18, FW-06, DA-02: each final outcome of a sync request told to CCB, once, in order per request."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.platform.observability import logger, metrics, tracer
from utilhub.syncrequests.wiring import ccb_outcomes

ccb_outcomes.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return ccb_outcomes(event, context)
