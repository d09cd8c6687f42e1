"""FW-05 billing for field work, FW-10 customer information updates, FW-11 unbadged assets: relayed to their target."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from utilhub.packs.field_work.wiring import notifications
from utilhub.platform.observability import logger, metrics, tracer

notifications.init()  # at cold start: a setting this function needs and lacks fails here, naming its variable


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return notifications(event, context)
