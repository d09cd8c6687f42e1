"""FW-01 creation sweep: activities left CREATING by a creation whose execution ended without recording its
outcome go to ERROR (resubmittable); runs on the template's schedule."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.wiring import creation_sweep
from utilhub.platform.observability import logger, metrics, tracer

creation_sweep.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return creation_sweep(event, context)
