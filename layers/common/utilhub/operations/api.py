"""Dead-letter queues over HTTP, for an operator (scope ``utilhub/ops``).

``GET /ops/dead-letters`` lists every dead-letter queue of the hub with its depth;
``POST /<pack>/dead-letters/<queue>/redrive`` sends the messages of one of the pack's queues back
to where they came from (``202``), ``409`` when it holds none, ``404`` for a queue the pack has not.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from utilhub.operations.wiring import dead_letter_queues
from utilhub.platform import problems
from utilhub.platform.dead_letters import NothingToRedrive, UnknownQueue
from utilhub.platform.http import Body, create_api, json_response, once_per_key

SCOPE = "utilhub/ops"
PACKS = ("meter-data", "customer", "field-work", "dacs")


def build_api() -> APIGatewayHttpResolver:
    app = create_api(SCOPE)

    @app.get("/ops/dead-letters")
    def dead_letters() -> Response[str]:
        return json_response(200, {"items": [queue.as_dict() for queue in dead_letter_queues().depths()]})

    def redrive(pack: str, queue: str) -> Response[str]:
        name = f"{pack}/{queue}"

        def work() -> tuple[int, Any]:
            try:
                return 202, dead_letter_queues().redrive(name).as_dict()
            except UnknownQueue:
                raise problems.not_found(f"No dead-letter queue {queue} in {pack}.") from None
            except NothingToRedrive as exc:
                raise problems.conflict(str(exc)) from None

        return once_per_key(app, Body(raw=b""), work)

    for pack in PACKS:
        app.post(f"/{pack}/dead-letters/<queue>/redrive")(lambda queue, pack=pack: redrive(pack, queue))

    return app


api = build_api()
