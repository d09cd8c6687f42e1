"""The worker pool: invocations in execution environments of their own, concurrently, with Lambda's
answers to a timeout, a dead environment and a function at its concurrency (no AWS needed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localhub.lambda_.runtime import Invocation
from localhub.lambda_.workers import WorkerPool
from localhub.template import FunctionSpec


def _sleeper(*, timeout: int = 10, reserved: int | None = None, logical_id: str = "Sleeper", init_seconds: float = 0) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        name=f"fixture-{logical_id}",
        code_uri="tests/integration/fixtures/functions/sleeper/",
        handler="app.handler",
        timeout=timeout,
        memory=128,
        environment={"FIXTURE_VARIABLE": logical_id, "FIXTURE_INIT_SECONDS": str(init_seconds)},
        events=[],
        metadata={},
        reserved_concurrency=reserved,
    )


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(default_concurrency=3, max_processes=4, wait_seconds=0.5)
    yield workers
    workers.stop()


def _at_once(pool: WorkerPool, spec: FunctionSpec, events: list[dict[str, object]]) -> list[Invocation]:
    results: list[Invocation | None] = [None] * len(events)

    def run(index: int) -> None:
        results[index] = pool.invoke(spec, events[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def test_invocations_of_one_function_run_at_once_each_in_its_own_environment(pool: WorkerPool, tmp_path: Path) -> None:
    spec = _sleeper()
    pool.invoke(spec, {})  # a warm environment, reused below
    results = _at_once(pool, spec, [{"meet": str(tmp_path), "of": 3}] * 3)
    assert [r.error for r in results] == [None, None, None]
    assert len({r.result["pid"] for r in results}) == 3  # three environments
    assert [r.result["met"] for r in results] == [True, True, True]  # each saw the other two while it ran
    assert {r.result["function"] for r in results} == {"fixture-Sleeper"}
    assert {r.result["variable"] for r in results} == {"Sleeper"}  # the function's own environment
    assert pool.cold_starts["Sleeper"] == 3  # the warm one was reused


def _held(pool: WorkerPool, spec: FunctionSpec, directory: Path) -> threading.Thread:
    """An invocation of ``spec`` running (it has started) until ``directory / "release"`` is made."""
    thread = threading.Thread(target=pool.invoke, args=(spec, {"hold": str(directory)}))
    thread.start()
    deadline = time.monotonic() + 60  # how long the environment may take to start, not a margin the test depends on
    while not (directory / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (directory / "started").exists()
    return thread


def test_a_slow_function_does_not_hold_up_another(pool: WorkerPool, tmp_path: Path) -> None:
    # Given an invocation of one function that runs until it is released
    slow, quick = _sleeper(logical_id="Slow"), _sleeper(logical_id="Quick")
    thread = _held(pool, slow, tmp_path)

    # When another function is invoked meanwhile
    answer = pool.invoke(quick, {})

    # Then it is answered while the first is still running
    assert answer.error is None
    assert thread.is_alive()
    (tmp_path / "release").touch()
    thread.join()


def test_an_invocation_past_its_timeout_is_stopped_with_its_environment(pool: WorkerPool) -> None:
    spec = _sleeper(timeout=1)
    answer = pool.invoke(spec, {"sleep": 30})
    assert answer.error == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    assert pool.invoke(spec, {}).error is None  # a new environment takes the next invocation
    assert pool.cold_starts["Sleeper"] == 2
    # both ended (their idempotency claims lapse when the runtime next lets time pass), none is running
    ended, running = pool.invocations.take_ended(horizon_ms=2**62)
    assert [invocation.function_name for invocation in ended] == ["fixture-Sleeper", "fixture-Sleeper"]
    assert running == []
    assert pool.invocations.take_ended(horizon_ms=2**62) == ([], [])


def test_a_cold_start_is_not_counted_in_the_functions_timeout(pool: WorkerPool) -> None:
    # Given a function whose import (its init phase) takes longer than its timeout, as a cold start on a loaded machine
    spec = _sleeper(timeout=1, init_seconds=1.5)

    # When it is invoked cold
    answer = pool.invoke(spec, {})

    # Then it answers, as on Lambda, whose init phase has a budget of its own (10 s), and its invocation had its timeout whole
    assert answer.error is None
    assert answer.result["remainingMs"] > 500
    assert pool.invoke(spec, {}).error is None  # and the warm environment goes on
    assert pool.cold_starts["Sleeper"] == 1


def test_an_init_phase_past_its_budget_goes_on_within_the_first_invocations_timeout() -> None:
    # Given a pool whose init budget is half a second, and a function whose import takes 3 s and whose timeout is 1 s
    workers = WorkerPool(default_concurrency=1, max_processes=2, wait_seconds=0.5, init_seconds=0.5)
    try:
        slow = workers.invoke(_sleeper(timeout=1, init_seconds=3, logical_id="SlowInit"), {})
        # ... and one whose import outlasts the budget, yet ends within the first invocation's timeout
        late = workers.invoke(_sleeper(timeout=20, init_seconds=1, logical_id="LateInit"), {})
    finally:
        workers.stop()

    # Then the first is timed out as Lambda times out an init retried in the first invocation; the second answers
    assert slow.error == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    assert late.error is None
    # and its handler's context counted down from the invocation's start, not from the end of the init it waited for
    # (at least half a second of its 20 s went to the init past its budget): its claims expire when the pool stops it
    assert late.result["remainingMs"] < 19_600


def test_a_timed_out_or_lost_invocation_is_reported_in_the_functions_log(tmp_path: Path) -> None:
    import json

    from localhub.lambda_.logs import FunctionLogs

    # Given a pool writing the functions' logs to a file
    logs = FunctionLogs(tmp_path / "functions.log", None)
    workers = WorkerPool(default_concurrency=1, max_processes=2, wait_seconds=0.5, logs=logs)
    try:
        # When one invocation outlives its timeout and another loses its environment
        workers.invoke(_sleeper(timeout=1), {"sleep": 30})
        workers.invoke(_sleeper(), {"exit": True})
    finally:
        workers.stop()
        logs.close()

    # Then each is in the log as Lambda reports it in a function's log group (JSON format: a platform.report record)
    records = [json.loads(line) for line in (tmp_path / "functions.log").read_text().splitlines() if line.startswith("{")]
    reports = [r["record"] for r in records if r.get("type") == "platform.report"]
    assert [(r["function"], r["status"], r["errorType"]) for r in reports] == [
        ("fixture-Sleeper", "timeout", "Sandbox.Timedout"),
        ("fixture-Sleeper", "error", "Runtime.ExitError"),
    ]


def test_an_environment_that_dies_is_a_function_error_and_the_pool_goes_on(pool: WorkerPool) -> None:
    spec = _sleeper()
    died = pool.invoke(spec, {"exit": True})
    assert died.error is not None
    assert died.error["errorType"] == "Runtime.ExitError"
    raised = pool.invoke(spec, {"raise": "bad input"})
    assert raised.error is not None
    assert (raised.error["errorType"], raised.error["errorMessage"]) == ("ValueError", "bad input")
    assert pool.invoke(spec, {}).error is None
    ended, _ = pool.invocations.take_ended(horizon_ms=2**62)  # each ended, answered or not: its claims may lapse
    assert [invocation.function_name for invocation in ended] == ["fixture-Sleeper"] * 3


def test_only_the_claims_of_an_ended_invocation_lapse(aws_endpoint: str) -> None:
    # Given an idempotency table with claims of a function: one by an invocation that ended (died, or answered without
    # its claim deleted), one by a running invocation started later, one by a running invocation started with the
    # ended one (as close a deadline), one completed, and one of another function with the same deadline
    import boto3

    from localhub.lambda_.claims import InvocationKey, lapse_claims

    dynamodb = boto3.client("dynamodb")
    table = "claims-lapse-test"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    deadline = 1_900_000_000_000
    claims = {
        "role:session#fn-A#ended": ("INPROGRESS", deadline + 15),
        "role:session#fn-A#later": ("INPROGRESS", deadline + 60_000),
        "role:session#fn-C#alongside": ("INPROGRESS", deadline + 10),
        "role:session#fn-A#done": ("COMPLETED", deadline),
        "role:session#fn-B#other": ("INPROGRESS", deadline),
    }
    for record_id, (status, expiration) in claims.items():
        dynamodb.put_item(
            TableName=table,
            Item={"id": {"S": record_id}, "status": {"S": status}, "in_progress_expiration": {"N": str(expiration)}},
        )

    # When time passes for the invocations of fn-A and fn-C that ended, while one of fn-C as close is still running
    ended = [InvocationKey("fn-A", deadline), InvocationKey("fn-C", deadline)]
    running = [InvocationKey("fn-A", deadline + 60_000), InvocationKey("fn-C", deadline + 1_000)]
    lapsed, kept = lapse_claims(dynamodb, [table], ended, now_ms=deadline - 500_000, running=lambda: running)

    # Then the ended invocation's claim alone has lapsed (expired as of now); the others are as they were, and the ended
    # invocation of fn-C is named as kept (its claim as close to the running one's), to lapse later
    assert (lapsed, kept) == (1, [InvocationKey("fn-C", deadline)])
    expirations = {item["id"]["S"]: int(item["in_progress_expiration"]["N"]) for item in dynamodb.scan(TableName=table)["Items"]}
    assert expirations == {
        "role:session#fn-A#ended": deadline - 500_001,
        "role:session#fn-A#later": deadline + 60_000,
        "role:session#fn-C#alongside": deadline + 10,
        "role:session#fn-A#done": deadline,
        "role:session#fn-B#other": deadline,
    }


def test_an_ended_invocation_is_kept_while_one_of_its_function_as_close_runs() -> None:
    from localhub.lambda_.claims import Invocations

    # Given an invocation that ended and another of the same function, started with it, still running
    invocations = Invocations()
    first = invocations.started("fn-A", 2_000_000_000_000)
    invocations.started("fn-A", 2_000_000_000_500)
    invocations.ended(first)

    # When time passes, then it is not given to lapse its claims (the running one's claim could be taken for its own)
    ended, running = invocations.take_ended(horizon_ms=2**62)
    assert (ended, [r.deadline_ms for r in running]) == ([], [2_000_000_000_500])


def test_a_function_at_its_reserved_concurrency_is_throttled(pool: WorkerPool, tmp_path: Path) -> None:
    # Given a function of reserved concurrency 1 whose one invocation is running (until released)
    spec = _sleeper(reserved=1)
    thread = _held(pool, spec, tmp_path)

    # When it is invoked again meanwhile
    throttled = pool.invoke(spec, {})  # waits wait_seconds (0.5 s) for the one slot, which stays taken
    (tmp_path / "release").touch()
    thread.join()

    # Then that invocation is throttled, as Lambda throttles it, and the slot is free again afterwards
    assert throttled.error is not None
    assert throttled.error["errorType"] == "TooManyRequestsException"
    assert pool.live()["Sleeper"]["concurrency"] == 1
    assert pool.invoke(spec, {}).error is None


def test_never_more_environments_than_allowed(pool: WorkerPool) -> None:
    specs = [_sleeper(logical_id=f"F{n}") for n in range(6)]
    for spec in specs:
        assert pool.invoke(spec, {}).error is None
    assert sum(f["idle"] + f["busy"] for f in pool.live().values()) <= 4  # the oldest idle ones were stopped
    assert pool.reap_idle() == 0  # none idle long enough yet


def test_an_environment_killed_in_the_middle_of_an_invocation_leaves_what_it_did_so_far(pool: WorkerPool, aws_endpoint: str) -> None:
    # Given a function that sends four messages, and a crash armed after two AWS calls
    import boto3

    sqs = boto3.client("sqs", region_name="eu-west-1")
    queue = sqs.create_queue(QueueName="crash-test")["QueueUrl"]
    spec = _sleeper()
    pool.crash("Sleeper", count=1, after_calls=2)

    # When it is invoked twice
    killed = pool.invoke(spec, {"sends": 4, "queue": queue})
    whole = pool.invoke(spec, {"sends": 1, "queue": queue})

    # Then the first ended as Lambda reports a lost environment, after its first two sends; the second ran whole
    assert killed.error is not None
    assert killed.error["errorType"] == "Runtime.ExitError"
    assert whole.error is None
    bodies = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in batch]
        sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    assert sorted(bodies) == ["message 1", "message 1", "message 2"]
    assert pool.crashed == {"Sleeper": 1}


def test_a_crash_is_refused_with_a_count_below_one(pool: WorkerPool) -> None:
    with pytest.raises(ValueError, match="count must be at least 1"):
        pool.crash("*", count=0)


def test_an_armed_crash_that_an_invocation_outlives_does_not_kill_the_next(pool: WorkerPool, aws_endpoint: str) -> None:
    # Given a crash armed after three AWS calls, and an invocation that makes one
    import boto3

    sqs = boto3.client("sqs", region_name="eu-west-1")
    queue = sqs.create_queue(QueueName="crash-outlived")["QueueUrl"]
    spec = _sleeper(logical_id="Outlived")
    pool.crash("Outlived", count=1, after_calls=3)
    outlived = pool.invoke(spec, {"sends": 1, "queue": queue})

    # When the same environment runs an invocation that makes five
    later = pool.invoke(spec, {"sends": 5, "queue": queue})

    # Then both ran whole, in one environment, and nothing was killed
    assert (outlived.error, later.error) == (None, None)
    assert outlived.result["pid"] == later.result["pid"]
    assert pool.crashed == {}


def test_a_workflow_task_throttled_by_the_pool_gets_lambdas_throttling_error_which_its_retry_names(
    pool: WorkerPool, tmp_path: Path
) -> None:
    import json

    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    from localhub.aws.stepfunctions import CLIENT_FACTORY, LambdaTaskDispatcher

    # Given a function of reserved concurrency 1 whose one invocation is running, and Step Functions' Lambda tasks
    # dispatched to the pool
    spec = _sleeper(reserved=1)
    thread = _held(pool, spec, tmp_path)
    dispatcher = LambdaTaskDispatcher(lambda name: spec if name == spec.name else None, pool.invoke)
    dispatcher.install()
    try:
        # When a workflow's Lambda task invokes it meanwhile
        client = getattr(lambda_eval_utils, CLIENT_FACTORY)(region="eu-west-1", service="lambda", state_credentials=None)
        with pytest.raises(ClientError) as refused:
            client.invoke(FunctionName=spec.name, Payload=json.dumps({}).encode())
    finally:
        dispatcher.uninstall()
        (tmp_path / "release").touch()
        thread.join()

    # Then Lambda's Invoke itself refused it (HTTP 429, TooManyRequestsException): the function never ran, and Step
    # Functions names the error Lambda.TooManyRequestsException, which the workflows' Retry names; a function error
    # "TooManyRequestsException" (what the task saw before) matches no Retry and ended the workflow at once
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_a_route_not_answered_within_the_apis_integration_timeout_is_a_503_and_its_invocation_goes_on(
    pool: WorkerPool, tmp_path: Path
) -> None:
    from localhub.hub import LocalHub

    # Given a hub whose API answers within 0.5 s (API Gateway's 30 s, shortened), run by the worker pool (not started:
    # only the invocation of a route's function is used), and a route's function that runs until it is released
    hub = LocalHub(workers=pool, api_timeout_seconds=0.5)
    spec = _sleeper(logical_id="Route")

    # When the route is called
    answered: list[Invocation | None] = []
    caller = threading.Thread(target=lambda: answered.append(hub._invoke_route(spec, {"hold": str(tmp_path)})))
    caller.start()
    caller.join(60)  # the environment's start and the 0.5 s (a bound for a stuck test, not a margin it depends on)

    # Then the caller got no invocation (the API's 503) while the function still runs, and it runs to its end
    assert answered == [None]
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (tmp_path / "started").exists()
    assert pool.invocations.take_ended(horizon_ms=2**62)[1] != []  # still running
    (tmp_path / "release").touch()
    ended: list[Any] = []
    while not ended and time.monotonic() < deadline:
        ended = pool.invocations.take_ended(horizon_ms=2**62)[0]
        time.sleep(0.02)
    assert [invocation.function_name for invocation in ended] == ["fixture-Route"]
