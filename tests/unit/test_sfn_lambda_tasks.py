"""The Lambda tasks of moto's ASL interpreter reach our functions through the dispatcher's hook, with one client."""

from __future__ import annotations

import json
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from localhub.aws.stepfunctions import CLIENT_FACTORY, LambdaTaskDispatcher
from localhub.lambda_.runtime import Invocation
from localhub.template import FunctionSpec

SPEC = FunctionSpec(
    logical_id="StepFunction",
    name="utilhub-test-StepFunction",
    code_uri="functions/none/",
    handler="app.handler",
    timeout=10,
    memory=128,
    environment={},
    events=[],
    metadata={},
)


def test_the_interpreters_lambda_tasks_share_one_client_that_reaches_our_functions() -> None:
    # Given the dispatcher installed, answering for one function
    seen: list[Any] = []

    def invoker(spec: FunctionSpec, event: Any) -> Invocation:
        seen.append((spec.logical_id, event))
        return Invocation(result={"done": event["n"]})

    moto_own = getattr(lambda_eval_utils, CLIENT_FACTORY)
    dispatcher = LambdaTaskDispatcher(lambda name: SPEC if name == SPEC.name else None, invoker)
    dispatcher.install()
    try:
        # When the interpreter runs two Lambda tasks
        answers = []
        clients = []
        for n in (1, 2):
            client: Any = getattr(lambda_eval_utils, CLIENT_FACTORY)(region="eu-west-1", service="lambda", state_credentials=None)
            clients.append(client)
            answers.append(client.invoke(FunctionName=SPEC.name, Payload=json.dumps({"n": n}).encode()))
    finally:
        dispatcher.uninstall()

    # Then both used one client (Step Functions builds none per task; building one costs the runtime's one process
    # tens of milliseconds of CPU), and each task reached the function
    assert clients[0] is clients[1]
    assert [json.loads(a["Payload"].read()) for a in answers] == [{"done": 1}, {"done": 2}]
    assert seen == [("StepFunction", {"n": 1}), ("StepFunction", {"n": 2})]
    # and once uninstalled, the interpreter builds its clients as before
    assert getattr(lambda_eval_utils, CLIENT_FACTORY) is moto_own
