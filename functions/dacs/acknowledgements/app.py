"""DA-04: DACS's positive and negative acknowledgements per record of the incremental extract files."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.dacs.wiring import acknowledgements
from utilhub.platform.observability import logger, metrics, tracer

acknowledgements.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return acknowledgements(event, context)
