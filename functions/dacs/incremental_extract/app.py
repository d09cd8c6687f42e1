"""DA-02 scheduled extract: the changed entities' newest images written to this run's DACS extract files."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.dacs.sync import run_extract
from utilhub.platform.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return run_extract(event)
