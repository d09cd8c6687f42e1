"""DA-03 transfer: extract files notified by S3 moved from extract/ to upload/, verified before the source goes."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.dacs.wiring import file_transfer
from utilhub.platform.observability import logger, metrics, tracer

file_transfer.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return file_transfer(event, context)
