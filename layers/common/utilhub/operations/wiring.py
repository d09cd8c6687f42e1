"""What the operations routes are built from: the dead-letter queues the template names."""

from __future__ import annotations

import json

from utilhub.platform import aws
from utilhub.platform.dead_letters import DeadLetterQueues
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import per_process


@per_process
def dead_letter_queues() -> DeadLetterQueues:
    queues: dict[str, str] = json.loads(get_settings().operations.require("dead_letter_queues"))
    return DeadLetterQueues(aws.sqs(), queues)
