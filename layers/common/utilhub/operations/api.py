"""Dead-letter queues over HTTP, for an operator (scope ``utilhub/ops``).

``GET /ops/dead-letters`` lists every dead-letter queue of the hub with its depth and its oldest message;
``POST /<pack>/dead-letters/<queue>/redrive`` (and ``POST /ops/dead-letters/<pack>%2F<queue>/redrive``) sends the messages of one of the pack's queues back
to where they came from (``202``), ``409`` when it holds none, ``404`` for a queue the pack has not.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from utilhub.operations.wiring import dead_letter_queues
from utilhub.platform import problems
from utilhub.platform.api_docs import Reply, ref
from utilhub.platform.dead_letters import NothingToRedrive, UnknownQueue
from utilhub.platform.http import HttpApiResolver, create_api, route

SCOPE = "utilhub/ops"
PACKS = ("meter-data", "customer", "field-work", "dacs")

SCHEMAS: dict[str, dict[str, Any]] = {
    "DeadLetterQueue": {
        "type": "object",
        "required": ["queue", "messages", "inFlight", "oldestAt"],
        "properties": {
            "queue": {
                "type": "string",
                "description": "`<pack>/<queue>`, as the redrive route names it.",
                "examples": ["field-work/relay"],
            },
            "messages": {"type": "integer", "minimum": 0, "description": "Messages waiting to be redriven (SQS's approximate count)."},
            "inFlight": {"type": "integer", "minimum": 0, "description": "Messages being moved by a redrive, or read by someone."},
            "oldestAt": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the oldest message seen in it was first sent (of up to 10 looked at); null when empty.",
            },
        },
    },
    "DeadLetterQueues": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("DeadLetterQueue")}},
    },
    "DeadLetterRedrive": {
        "type": "object",
        "required": ["queue", "taskHandle", "messages"],
        "properties": {
            "queue": {"type": "string"},
            "taskHandle": {"type": "string", "description": "SQS's message move task."},
            "messages": {"type": "integer", "minimum": 1, "description": "Messages the queue held when the redrive started."},
        },
    },
}
QUEUE = {
    "schema": {"type": "string", "pattern": "^[a-z][a-z-]*$"},
    "description": "The queue, as `GET /ops/dead-letters` names it after the pack.",
}


def build_api() -> HttpApiResolver:
    app = create_api(SCOPE, compound_path_ids=frozenset({"queue"}))

    @route(
        app,
        "GET",
        "/ops/dead-letters",
        summary="Every dead-letter queue of the hub and its depth",
        description="One item per dead-letter queue whose messages an operator may redrive, named `<pack>/<queue>`.",
        replies=[Reply(200, "The queues.", "DeadLetterQueues")],
        schemas=SCHEMAS,
    )
    def dead_letters() -> tuple[int, Any]:
        return 200, {"items": [queue.as_dict() for queue in dead_letter_queues().depths()]}

    def redrive(pack: str, queue: str) -> tuple[int, Any]:
        try:
            return 202, dead_letter_queues().redrive(f"{pack}/{queue}").as_dict()
        except UnknownQueue:
            raise problems.not_found(f"No dead-letter queue {queue} in {pack}.") from None
        except NothingToRedrive as exc:
            raise problems.conflict(str(exc)) from None

    for pack in PACKS:
        route(
            app,
            "POST",
            f"/{pack}/dead-letters/{{queue}}/redrive",
            idempotent=True,
            summary=f"Redrive a dead-letter queue of {pack}",
            description=(
                "Sends every message of the dead-letter queue back to the queue it came from (SQS's `StartMessageMoveTask`), "
                "where its consumer delivers it as a new message; consumers are idempotent, so a message whose effect was "
                "already applied changes nothing. 409 when the queue holds no message or a redrive of it is under way."
            ),
            replies=[Reply(202, "The redrive started.", "DeadLetterRedrive")],
            problems=[404, 409],
            path_parameters={"queue": QUEUE},
            schemas=SCHEMAS,
        )(lambda queue, pack=pack: redrive(pack, queue))

    @route(
        app,
        "POST",
        "/ops/dead-letters/{queue}/redrive",
        idempotent=True,
        summary="Redrive a dead-letter queue",
        description=(
            "The queue as `GET /ops/dead-letters` names it, `<pack>/<queue>` percent-encoded in one segment "
            "(`field-work%2Frelay`); otherwise as the pack's own redrive route: SQS's `StartMessageMoveTask` back to the "
            "source queue, 409 when it holds no message or a redrive of it is under way, 404 for an unknown queue."
        ),
        replies=[Reply(202, "The redrive started.", "DeadLetterRedrive")],
        problems=[404, 409],
        path_parameters={
            "queue": {"schema": {"type": "string", "pattern": "^[a-z][a-z-]*(/|%2F)[a-z][a-z-]*$"}, "description": "`<pack>/<queue>`."}
        },
        schemas=SCHEMAS,
    )
    def redrive_named(queue: str) -> tuple[int, Any]:
        pack, _, name = unquote(queue).partition("/")
        return redrive(pack, name)

    return app


api = build_api()
