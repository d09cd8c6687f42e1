"""MD-12 online bill determinants, MD-14 register read high-low boundaries, MD-15 usage (CCB -> MDM, synchronous)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.meter_data.wiring import usage
from utilhub.platform.observability import logger, metrics, tracer

usage.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return usage(event, context)
