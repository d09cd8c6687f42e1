"""The operations wiring: what its routes are built from (the dead-letter queues the template names) and the
entry of its handler, named after its folder under ``functions/operations/``."""

from __future__ import annotations

import json

from utilhub.platform import aws
from utilhub.platform.dead_letters import DeadLetterQueues
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import Handler, entry, per_process


@per_process
def dead_letter_queues() -> DeadLetterQueues:
    queues: dict[str, str] = json.loads(get_settings().operations.require("dead_letter_queues"))
    return DeadLetterQueues(aws.sqs(), queues)


@entry
def dead_letters() -> Handler:
    """Every dead-letter queue's depth, and a redrive of one."""
    from utilhub.operations.api import api

    dead_letter_queues()
    return api.resolve
