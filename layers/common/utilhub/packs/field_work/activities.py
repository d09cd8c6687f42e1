"""FW-01 creation and FW-02 update, cancel and completion of field activities.

- :func:`submit` (FW-01): route the activity (routing rules, implementation model), record it CREATING
  and start one Standard workflow execution per activity (its name derived from the source and id):
  the activity is created in every routed system and linked, or what was created is canceled
  (compensation) and the activity ends in ERROR with the reason. The same activity again creates
  nothing (its execution is started again only while it is CREATING: the start may have failed); other content
  under the same source and id is a 409.
- :func:`run_step`: the workflow's steps (create in one target, cancel in one target, finish).
- :func:`resubmit`: an activity in ERROR is created again, from where it failed, under a new execution.
- :func:`end_creations_that_ended` (scheduled): an activity still CREATING past the workflow's longest span whose
  attempt's execution ended without recording its outcome (FAILED, TIMED_OUT, ABORTED) is put in ERROR with the
  execution's error and cause, as its workflow would have: counted, alarmed, resubmittable; one whose attempt never
  started has it started.
- :func:`accept_event` (FW-02): an event for an activity is recorded once (by ``eventId``) and queued
  (FIFO, one message group per activity) to be forwarded to every other linked system; an unknown
  activity is a 404, one already completed, canceled or in ERROR a 409. An event that comes while the
  activity is being created is held on its record and queued, in order, when the creation ends linked,
  so it reaches every routed system (the one created last too).
- :func:`forward_event`: the delivery of one queued event, once per system.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from utilhub.packs.field_work import attachments
from utilhub.packs.field_work.model import (
    ActivityEventIn,
    ActivityIn,
    ActivityKey,
    CancelInTarget,
    CreateInTarget,
    FinishCreation,
    StepEnvelope,
)
from utilhub.packs.field_work.routing import common_type, route_activity, type_in
from utilhub.packs.field_work.service_points import service_point_in
from utilhub.packs.field_work.store import CLOSED, CLOSING, POINT, ActivityRecord, transaction_id
from utilhub.packs.field_work.wiring import activity_store, client_for, cross_references, stepfunctions
from utilhub.platform import aws, journal, last_try, problems, wiring
from utilhub.platform.connectors import TargetRejected
from utilhub.platform.idempotency import run_once
from utilhub.platform.observability import MetricUnit, correlation_id, logger, metrics, use_correlation_id
from utilhub.platform.reasons import loggable, values_withheld
from utilhub.platform.scheduled import scheduled_clock
from utilhub.platform.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class ActivityNotLinkedYet(RuntimeError):
    """An event reached delivery before its activity was created everywhere: redelivered later."""


class ForwardMessage(BaseModel):
    sourceSystem: str
    activityId: str
    event: ActivityEventIn
    correlationId: str | None = None


def body_hash(activity: ActivityIn) -> str:
    return hashlib.sha256(activity.model_dump_json().encode()).hexdigest()


def execution_name(activity: ActivityIn, attempt: int = 1) -> str:
    """The creation's execution: one per activity and attempt (a resubmission runs under a new name)."""
    name = f"{activity.sourceSystem}-{activity.activityId}"
    suffix = f"-{attempt}" if attempt > 1 else ""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if safe == name and len(safe) + len(suffix) <= 80:
        return safe + suffix
    return f"{safe[:60]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}{suffix}"


# ---------------------------------------------------------------------------------------- FW-01


def submit(activity: ActivityIn) -> dict[str, Any]:
    settings = get_settings()
    routed_to = route_activity(activity.sourceSystem, activity.activityType, settings.field_work.field_work_model)
    digest = body_hash(activity)
    attempt, existing = 1, None
    if not activity_store().create(activity, digest, routed_to):
        existing = activity_store().get(activity.sourceSystem, activity.activityId)
        if existing is not None and existing.bodyHash != digest:
            raise problems.conflict(
                f"Activity {activity.activityId} from {activity.sourceSystem} was already submitted with other content."
            )
        if existing is not None:
            routed_to, attempt = existing.routedTo, existing.attempt
            # a submission that stopped between recording the activity and listing it under its service point is
            # completed by the source's retry: else FW-10's updates would never find the activity
            activity_store().add_to_service_point(activity)
    answer = {"activityId": activity.activityId, "sourceSystem": activity.sourceSystem, "routedTo": routed_to}
    if existing is not None and existing.status != "CREATING":
        return answer  # linked, closed or in ERROR: its creation ended, a repeat starts nothing (ERROR is resubmitted)
    if _start_creation(activity, routed_to, attempt):
        metrics.add_metric(name="FieldActivitiesStarted", unit=MetricUnit.Count, value=1)
    return answer


def _start_creation(activity: ActivityIn, routed_to: list[str], attempt: int) -> bool:
    """Start the attempt's execution; False when it was started already. Its input is the activity's key: each
    step reads the activity from the hub's record of it, so the execution's history holds no personal data."""
    try:
        stepfunctions().start_execution(
            stateMachineArn=get_settings().field_work.require("field_work_state_machine_arn"),
            name=execution_name(activity, attempt),
            input=creation_input(activity, routed_to, attempt),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return False
    return True


def creation_input(activity: ActivityIn, routed_to: list[str], attempt: int) -> str:
    """The creation workflow's input: the activity's key and attempt, a create and a cancel step for each routed system.
    The finish steps take the attempt from the execution's input (they are sent ``$$.Execution.Input``), so an older attempt's
    execution never records its outcome over a newer one's."""
    key = ActivityKey.of(activity)
    execution = {
        "activity": key.model_dump(mode="json"),
        "attempt": attempt,
        "creates": [CreateInTarget(target=t, activity=key, attempt=attempt).model_dump(mode="json") for t in routed_to],
        "cancels": [CancelInTarget(target=t, activity=key, attempt=attempt).model_dump(mode="json") for t in routed_to],
        "canceled": [],  # what the compensation did, if it runs; its error, if it stops
        "compensationError": None,
    }
    return json.dumps(execution)


def in_target(activity: ActivityIn, target: str, service_point_id: str) -> ActivityIn:
    """The activity as ``target`` is given it: its type in the target's own code (translated again at each create: a map
    changed since intake fails the create with its 422), at the service point by the target's id."""
    return activity.model_copy(
        update={
            "activityType": type_in(target, common_type(activity.activityType, activity.sourceSystem)),
            "servicePointId": service_point_id,
        }
    )


def _creation_execution(activity: ActivityIn, attempt: int) -> dict[str, Any] | None:
    """The attempt's execution as Step Functions describes it (``status``, and ``error``/``cause`` once it failed),
    or None when it was never started."""
    arn = get_settings().field_work.require("field_work_state_machine_arn").replace(":stateMachine:", ":execution:", 1)
    try:
        return dict(stepfunctions().describe_execution(executionArn=f"{arn}:{execution_name(activity, attempt)}"))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
            raise
        return None


def _creation_state(activity: ActivityIn, attempt: int) -> str | None:
    """The status of the attempt's execution (RUNNING, SUCCEEDED, FAILED, ...), or None when it was never started."""
    found = _creation_execution(activity, attempt)
    return None if found is None else str(found["status"])


def resubmit(source: str, activity_id: str) -> dict[str, Any]:
    """Run the creation of an activity in ERROR again, from where it failed: where it is linked and open, the
    target's own duplicate check finds it (nothing created twice); where it was canceled (compensated) or never
    made, it is created; then linked, or compensated again. An activity CREATING whose attempt never started
    (the start failed after the status changed) or ended without recording its outcome is resubmitted too;
    one whose attempt's execution is running or about to run again (redriven: its cancel steps could cancel what a
    newer attempt links), or that is linked or closed, is a 409."""
    record = activity_store().get(source, activity_id)
    if record is None:
        raise problems.not_found(f"No activity {activity_id} from {source}.")
    if record.status not in ("CREATING", "ERROR"):
        raise problems.conflict(f"Activity {activity_id} is {record.status}; only an activity in ERROR can be resubmitted.")
    state = _creation_state(record.activity, record.attempt)
    if state in STILL_RUNNING:
        raise problems.conflict(f"Activity {activity_id}'s creation (attempt {record.attempt}) is {state}; query it.")
    if record.status == "CREATING" and state is None:  # the resubmission's start failed after the status changed: start it now
        _start_creation(record.activity, record.routedTo, record.attempt)
        return _resubmitted(record)
    resubmitted = activity_store().new_attempt(record, "resubmitted")
    if resubmitted is None:
        raise problems.conflict(f"Activity {activity_id} changed meanwhile; query it and retry.")
    _start_creation(resubmitted.activity, resubmitted.routedTo, resubmitted.attempt)
    metrics.add_metric(name="FieldActivitiesResubmitted", unit=MetricUnit.Count, value=1)
    logger.info("activity resubmitted", extra={"activityId": activity_id, "attempt": resubmitted.attempt})
    return _resubmitted(resubmitted)


def _resubmitted(record: ActivityRecord) -> dict[str, Any]:
    activity = record.activity
    return {"activityId": activity.activityId, "sourceSystem": activity.sourceSystem, "status": "CREATING", "attempt": record.attempt}


# the statuses of an execution that may still record the activity's outcome (a redriven one runs again)
STILL_RUNNING = ("RUNNING", "PENDING_REDRIVE")
# what the finish step answers when a newer attempt holds the activity: the workflow ends (succeeds) recording nothing
SUPERSEDED = "SUPERSEDED"


def end_creations_that_ended(now: Callable[[], datetime], out_of_time: Callable[[], bool]) -> dict[str, int]:
    """The activities still CREATING whose attempt began longer ago than the creation's bound (the workflow's longest
    span, ``UTILHUB_FIELD_WORK_CREATION_BOUND_SECONDS``) and whose execution ended without recording the outcome (its
    recording failed past its retries, an operator stopped it): each put in ERROR, at that attempt only (never over
    LINKED, a newer attempt or an event recorded meanwhile), with the execution's error and cause, counted in
    ``FieldActivitiesFailed`` as a workflow's ERROR is. Its held events stay held, as for any ERROR, until a
    resubmission links it. One whose attempt's execution never started (its start failed) has it started, as a
    resubmission does: never put in ERROR, since a source's retry of the same activity starts that same execution
    (the same name and input: Step Functions starts it once), so the activity's creation may be running already.
    Oldest first, until ``out_of_time()``; the next run starts again from the oldest."""
    bound = timedelta(seconds=get_settings().field_work.field_work_creation_bound_seconds)
    outcome = {"ended": 0, "running": 0, "started": 0, "outOfTime": 0}
    for source, activity_id in activity_store().creating_before(now() - bound):
        if out_of_time():  # checked before each activity: a run overruns its budget by one activity at most
            outcome["outOfTime"] = 1
            break
        record = activity_store().get(source, activity_id)
        if record is None or record.status != "CREATING":
            continue  # finished since the index was read
        execution = _creation_execution(record.activity, record.attempt)
        if execution is not None and execution["status"] in STILL_RUNNING:
            outcome["running"] += 1  # past the workflow's longest span, yet running: looked at again next run
            logger.warning("activity creation running past its bound", extra={"activityId": activity_id, "attempt": record.attempt})
            continue
        if execution is None:  # its start failed: started now (a source's retry meanwhile starts the same one)
            if _start_creation(record.activity, record.routedTo, record.attempt):
                outcome["started"] += 1
                logger.warning("activity creation never started: started", extra={"activityId": activity_id, "attempt": record.attempt})
            continue
        reason = _ended_reason(execution, record.attempt)
        if activity_store().finish(record.activity, "ERROR", reason, attempt=record.attempt) is None:
            continue  # resubmitted or finished meanwhile
        outcome["ended"] += 1
        logger.warning("activity creation ended without its outcome: ERROR", extra={"activityId": activity_id, "attempt": record.attempt})
    if outcome["ended"]:
        metrics.add_metric(name="FieldActivitiesFailed", unit=MetricUnit.Count, value=outcome["ended"])
    return outcome


def sweep_creations(event: Mapping[str, Any] | None, context: Any = None) -> dict[str, int]:
    """The creation sweep's scheduled run: as of the schedule's time (:func:`scheduled_clock`), within its budget."""
    deadline = time.monotonic() + get_settings().field_work.field_work_creation_sweep_budget_seconds
    return end_creations_that_ended(scheduled_clock(event), lambda: time.monotonic() >= deadline)


def _ended_reason(execution: Mapping[str, Any], attempt: int) -> str:
    error, cause = execution.get("error"), execution.get("cause")
    detail = f" ({error})" if error else ""
    if cause:  # a Lambda error's cause is its JSON payload: its message is taken
        detail = f" ({_failure_reason({'Error': error or execution['status'], 'Cause': cause})})"
    return f"the creation (attempt {attempt}) ended {execution['status']} without recording its outcome{detail}"[:1000]


class ActivityNotRecorded(RuntimeError):
    """A workflow step names an activity the hub has no record of (the record is written before the workflow starts)."""


def _recorded(key: ActivityKey) -> ActivityRecord:
    record = activity_store().get(key.sourceSystem, key.activityId)
    if record is None:
        raise ActivityNotRecorded(f"no record of activity {key.activityId} from {key.sourceSystem}")
    return record


def run_step(event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
    """One step of the creation workflow; the step names the activity by its key, the activity is read from its record."""
    step = StepEnvelope.model_validate({"event": event}).event
    if isinstance(step, CancelInTarget):
        return _compensate(step)
    record = _recorded(step.activity)
    activity = record.activity
    if isinstance(step, CreateInTarget):
        key = f"FW-01#{activity.sourceSystem}#{activity.activityId}#create#{step.target}"
        key += f"#{step.attempt}" if step.attempt > 1 else ""  # a resubmission asks the target again

        def create() -> dict[str, str]:
            # at the service point by the target's id (WAM's, ODM's from FW-06; not synchronized yet: retried, then ERROR)
            sent = in_target(activity, step.target, service_point_in(step.target, activity, cross_references()))
            target_id = client_for(step.target).create(sent)
            activity_store().link(activity, step.target, target_id)
            return {"target": step.target, "id": target_id}

        return run_once(key=key, fingerprint=body_hash(activity), work=create, lambda_context=lambda_context)
    return _finish(step, record)


def _superseded(attempt: int | None, record: ActivityRecord) -> bool:
    """A newer attempt holds the activity: the step's execution (of ``attempt``; None: an execution started before its
    steps carried it) was redriven, or ran on after its attempt was put in ERROR and resubmitted."""
    return attempt is not None and record.attempt != attempt


def _superseded_answer(step: FinishCreation | CancelInTarget, record: ActivityRecord) -> dict[str, Any]:
    """What a superseded step answers, having done nothing: a cancel, nothing canceled; a finish, ``SUPERSEDED`` (with a
    ``failure`` of None, which the ``Linked`` state's ResultSelector reads), noted on the activity's timeline."""
    attempt, activity = step.attempt, record.activity
    logger.warning(
        "creation step of a superseded attempt: nothing done",
        extra={"activityId": activity.activityId, "step": step.step, "attempt": attempt, "current": record.attempt},
    )
    if isinstance(step, CancelInTarget):
        return {"target": step.target, "canceled": False}
    detail = f"attempt {attempt}'s outcome not recorded: attempt {record.attempt} holds the activity"
    journal.hop(
        POINT, transaction_id(activity.sourceSystem, activity.activityId), step="finish", system="hub", outcome=SUPERSEDED, detail=detail
    )
    return {"status": SUPERSEDED, "failure": None, "attempt": attempt, "current": record.attempt}


def _compensate(step: CancelInTarget) -> dict[str, Any]:
    """Cancel the activity in a target the workflow created it in; nothing to do where it was not created.

    The hub's link is written after the target created the activity, so a create step that failed between
    the two leaves no link: the target is then asked whether it has the activity."""
    record = _recorded(step.activity)
    if record.status != "CREATING":  # linked already (a later step failed): nothing to undo
        return {"target": step.target, "canceled": False}
    if _superseded(step.attempt, record):  # a newer attempt's: what is there, it links (the target finds it by external id)
        return _superseded_answer(step, record)
    target_id = record.links.get(step.target)
    if target_id is None:
        target_id = client_for(step.target).find(record.activity)
    if target_id is None:
        return {"target": step.target, "canceled": False}
    cancel = ActivityEventIn.model_validate(
        {
            "eventId": f"compensation-{step.activity.sourceSystem}-{step.activity.activityId}",
            "event": "CANCEL",
            "at": record.history[-1]["at"],
            "reason": "the activity could not be created in every routed system",
        }
    )
    client_for(step.target).send_event(target_id, cancel)
    activity_store().unlink(record.activity, step.target, target_id)
    logger.info("compensated", extra={"activityId": step.activity.activityId, "target": step.target})
    return {"target": step.target, "canceled": True}


def _finish(step: FinishCreation, record: ActivityRecord) -> dict[str, Any]:
    """Record the attempt's outcome; ``SUPERSEDED``, recording nothing and compensating nothing, when a newer attempt
    holds the activity (its own execution records the outcome). The record's attempt is checked again by the
    conditional write, so a resubmission between the read and the write is seen too."""
    activity = record.activity
    if _superseded(step.attempt, record):
        return _superseded_answer(step, record)
    if step.failure is None:
        missing = [c for c in step.created or [] if "failure" in c]
        if missing:  # not recorded here: the workflow compensates first, then records the ERROR
            cause = "; ".join(f"not created in {c['target']} ({_failure_reason(c['failure'])})" for c in missing)
            return {"status": "INCOMPLETE", "failure": {"Error": "CreationFailed", "Cause": cause}}
        finished = activity_store().finish(activity, "LINKED", "created and linked in every routed system", attempt=step.attempt)
        now = finished or activity_store().get(activity.sourceSystem, activity.activityId)
        if finished is None and now is not None and _superseded(step.attempt, now):
            return _superseded_answer(step, now)
        if now is not None and now.status in ("LINKED", *CLOSING.values()):
            _release_held(now)  # again on a retried step: the queue and the delivery deduplicate them
        return {"status": "LINKED", "failure": None}
    reason = _failure_reason(step.failure)
    not_canceled = [c for c in step.canceled if "failure" in c]
    if not_canceled:
        reason += "; " + "; ".join(f"not canceled in {c['target']} ({_failure_reason(c['failure'])})" for c in not_canceled)
        metrics.add_metric(name="FieldActivityCompensationsFailed", unit=MetricUnit.Count, value=len(not_canceled))
    if step.compensationError is not None:
        reason += f"; the compensation failed ({_failure_reason(step.compensationError)})"
        metrics.add_metric(name="FieldActivityCompensationsFailed", unit=MetricUnit.Count, value=1)
    if activity_store().finish(activity, "ERROR", reason, attempt=step.attempt) is None:
        now = activity_store().get(activity.sourceSystem, activity.activityId)
        if now is not None and _superseded(step.attempt, now):  # resubmitted since the record was read
            return _superseded_answer(step, now)
    metrics.add_metric(name="FieldActivitiesFailed", unit=MetricUnit.Count, value=1)
    return {"status": "ERROR", "reason": reason}


def _release_held(record: ActivityRecord) -> None:
    """Queue the events recorded while the activity was being created, in the order they came."""
    for event in record.held:
        _queue_event(record.activity.sourceSystem, record.activity.activityId, event)
    if record.held:
        logger.info("held events released", extra={"activityId": record.activity.activityId, "events": len(record.held)})


def _failure_reason(failure: dict[str, Any]) -> str:
    cause = str(failure.get("Cause") or "")
    if failure.get("Error") == "CreationFailed":  # the finish step's own summary of the creates that failed
        return cause[:1000]
    try:
        parsed = json.loads(cause)
        message = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except ValueError:
        message = cause
    return f"{failure.get('Error', 'Error')}: {message}"[:1000]


# ---------------------------------------------------------------------------------------- FW-02


def _found(system: str, activity_id: str) -> ActivityRecord:
    """The activity ``system`` names ``activity_id`` (its source's id, or the id the system gave it); 404 otherwise."""
    record = activity_store().find(system, activity_id)
    if record is None:
        raise problems.not_found(f"No activity {activity_id} in {system}.")
    return record


def accept_event(system: str, named_id: str, event: ActivityEventIn) -> dict[str, Any]:
    """An event for the activity ``system`` names ``named_id`` (by its own id, or the source's): from ``system``
    unless the body says otherwise, recorded and queued under the activity's source and id."""
    for _ in range(5):  # the record is re-read when another event changed it meanwhile
        record = _found(system, named_id)
        source, activity_id = record.activity.sourceSystem, record.activity.activityId
        from_system = event.fromSystem or system
        forwarded_to = [s for s in [record.activity.sourceSystem, *record.routedTo] if s != from_system]
        answer = {"activityId": named_id, "event": event.event, "forwardedTo": forwarded_to}
        if (source, activity_id) != (system, named_id):  # named by a linked system's own id: say which activity it is
            answer |= {"sourceSystem": source, "sourceActivityId": activity_id}
        resolved, digest = event_from(event, from_system)
        if event.eventId in record.eventIds:
            _repeat(record, resolved, digest)
            return answer
        if from_system not in (record.activity.sourceSystem, *record.routedTo):
            raise problems.invalid(
                f"{from_system} has no part in activity {activity_id}.",
                [problems.FieldError("#/fromSystem", "not a system the activity is linked to")],
            )
        if record.status in CLOSED:
            raise problems.conflict(f"Activity {activity_id} is {record.status}: it takes no more events.")
        if record.closing is not None:
            raise problems.conflict(
                f"Activity {activity_id} is being created and will be {record.closing} then (an event already received): "
                "it takes no more events."
            )
        if event.attachments:
            if event.event != "COMPLETE":
                raise problems.invalid("Attachments come with a completion.", [problems.FieldError("#/attachments", "only with COMPLETE")])
            attachments.check_completion_attachments(source, activity_id, event.attachments)
        if activity_store().record_event(record, resolved, digest):
            if not record.creating:  # held otherwise, and queued when the activity is linked
                _queue_event(source, activity_id, resolved)
            metrics.add_metric(name="FieldActivityEvents", unit=MetricUnit.Count, value=1)
            return answer
    raise problems.unavailable("The activity is changing too often; retry.")


def _repeat(record: ActivityRecord, event: ActivityEventIn, digest: str) -> None:
    """The same event posted again changes nothing, but is queued again while its delivery is still
    deduplicated (the once-per-system keys live ``idempotency_expiry_seconds``): the first post may have been
    recorded and then failed to queue (answered 503), and this retry is what delivers it. The same id with
    other content (another event, sender or body) is a 409."""
    recorded = next((entry for entry in record.history if entry.get("eventId") == event.eventId), None)
    if recorded is None or "eventHash" not in recorded:  # recorded before events were hashed: nothing to compare
        return
    if recorded["eventHash"] != digest:
        raise problems.conflict(f"Event {event.eventId} was already posted with other content.")
    if record.status in ("CREATING", "ERROR") and any(e.eventId == event.eventId for e in record.held):
        return  # still held: queued when the activity is linked
    age = datetime.now(UTC) - datetime.fromisoformat(recorded["at"])
    if age < timedelta(seconds=get_settings().http.idempotency_expiry_seconds):
        _queue_event(record.activity.sourceSystem, record.activity.activityId, event)


def event_from(event: ActivityEventIn, from_system: str) -> tuple[ActivityEventIn, str]:
    """The event as recorded, from the system that sent it, and its hash (a repeat of its id is compared with it)."""
    resolved = event.model_copy(update={"fromSystem": from_system})
    return resolved, hashlib.sha256(resolved.model_dump_json().encode()).hexdigest()


def forward_message(source: str, activity_id: str, event: ActivityEventIn) -> tuple[str, str]:
    """What is queued to forward ``event`` (:class:`ForwardMessage`'s JSON) and its FIFO deduplication id."""
    message = ForwardMessage(sourceSystem=source, activityId=activity_id, event=event, correlationId=correlation_id())
    return message.model_dump_json(), hashlib.sha256(f"{source}#{activity_id}#{event.eventId}".encode()).hexdigest()


def _queue_event(source: str, activity_id: str, event: ActivityEventIn) -> None:
    body, deduplication_id = forward_message(source, activity_id, event)
    wiring.sqs().send_message(
        QueueUrl=get_settings().field_work.require("field_work_event_queue_url"),
        MessageBody=body,
        MessageGroupId=f"{source}#{activity_id}",  # one activity's events are forwarded in order
        MessageDeduplicationId=deduplication_id,
    )


def run_workflow_step(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One step of FW-01's workflow (Step Functions task)."""
    found = event.get("activity")
    key: dict[str, Any] = found if isinstance(found, dict) else {}
    transaction = transaction_id(str(key.get("sourceSystem")), str(key.get("activityId")))
    # no refused value in its history or log; its calls to the routed systems are hops of the activity's timeline
    with aws.transient_failures_retryable(), values_withheld(), journal.working_on(POINT, transaction):
        return run_step(event, context)


def deliver_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Forward an SQS FIFO batch of activity events; a failure holds back that activity's later events only. An event
    whose last try failed (and each later one of its activity held behind it) is shown on its activity as not delivered
    (:func:`_dead_lettered`) until a redrive of the queue delivers it."""

    def deliver(record: SQSRecord) -> str:
        message = ForwardMessage.model_validate_json(record.body)
        use_correlation_id(message.correlationId)
        try:
            return forward_event(message, context)
        except Exception as exc:
            _dead_lettered(record, message, loggable(exc))
            raise

    return last_try.process_batch(event, context, deliver, _held_back)


def _held_back(record: SQSRecord, blocker: SQSRecord | None) -> None:
    """An activity's event skipped behind a failed one (``blocker``) was never tried, yet each receive counts against
    it: on the queue's last, SQS moves it to the dead-letter queue with it, so it is shown not delivered too, naming it."""
    try:
        message = ForwardMessage.model_validate_json(record.body)
    except ValueError:  # not an activity's event: nothing to show it on
        return
    behind = "an earlier event"
    if blocker is not None:
        with contextlib.suppress(ValueError):
            behind = ForwardMessage.model_validate_json(blocker.body).event.eventId
    _dead_lettered(record, message, f"held behind {behind} of its activity")


def _dead_lettered(record: SQSRecord, message: ForwardMessage, reason: str) -> None:
    """After a failed try of ``message``: if it was the queue's last, the event is in the dead-letter queue, so its
    activity shows it not delivered, with the reason, and the activity's timeline has it (the operators' view)."""
    tries = last_try.tries_if_last(record)
    if tries is None:
        return
    shown = last_try.dead_lettered_reason(tries, reason)
    event = message.event
    try:
        activity_store().note_undelivered(message.sourceSystem, message.activityId, event, shown)
    except Exception as exc:  # never fails the batch: the event is in the dead-letter queue (listed, alarmed) all the same
        logger.warning("undelivered event not noted on its activity", extra={"activityId": message.activityId, "error": type(exc).__name__})
    transaction = transaction_id(message.sourceSystem, message.activityId)
    journal.hop(POINT, transaction, step=f"event {event.eventId}", system="hub", outcome=last_try.DEAD_LETTERED, detail=shown)
    logger.error("activity event dead-lettered", extra={"activityId": message.activityId, "eventId": event.eventId, "tries": tries})


def forward_event(message: ForwardMessage, lambda_context: Any = None) -> str:
    record = activity_store().get(message.sourceSystem, message.activityId)
    if record is None:
        raise LookupError(f"activity {message.activityId} from {message.sourceSystem} is not recorded")
    if record.status == "CREATING":
        raise ActivityNotLinkedYet(f"activity {message.activityId} is still being created")
    if record.status == "ERROR":  # accepted while it was being created, which then failed and was compensated
        logger.warning("event not forwarded: the activity's creation failed", extra={"activityId": message.activityId})
        return "dropped"
    from_system = message.event.fromSystem or message.sourceSystem
    targets = [s for s in record.links if s != from_system]
    # the event as received identifies the delivery: a redelivery is the same request to every system,
    # though the download URLs signed for it (FW-07) differ from one attempt to the next
    fingerprint = message.event.model_dump_json()
    outgoing: list[ActivityEventIn] = []

    def event_out() -> ActivityEventIn:
        """The event as sent: each attachment with what a system needs to fetch it, signed when first sent."""
        if not outgoing:
            refs = attachments.references(message.event.attachments) if message.event.attachments else []
            outgoing.append(message.event.model_copy(update={"attachments": refs}) if refs else message.event)
        return outgoing[0]

    for system in targets:

        def send(system: str = system) -> dict[str, str]:
            event = event_out()
            try:
                client_for(system).send_event(record.links[system], event)
            except TargetRejected as exc:  # a business refusal: retrying will not change it; recorded for an operator
                return {"refused": f"{system} refused {event.event} {event.eventId} ({exc.status}): {exc.reason}"}
            return {"sent": system}

        key = f"FW-02#{message.sourceSystem}#{message.activityId}#{message.event.eventId}#{system}"
        outcome = run_once(key=key, fingerprint=fingerprint, work=send, lambda_context=lambda_context)
        if "refused" in outcome:
            activity_store().note_refusal(record.activity, outcome["refused"])
            logger.warning("event refused by a linked system", extra={"activityId": message.activityId, "target": system})
    if message.event.eventId in record.undelivered:  # dead-lettered before: a redrive delivered it
        activity_store().delivered(message.sourceSystem, message.activityId, message.event.eventId)
        transaction = transaction_id(message.sourceSystem, message.activityId)
        journal.hop(POINT, transaction, step=f"event {message.event.eventId}", system="hub", outcome="DELIVERED", detail=", ".join(targets))
    logger.info("event forwarded", extra={"activityId": message.activityId, "eventId": message.event.eventId, "to": targets})
    return "forwarded"


def new_attachment(system: str, named_id: str, request: attachments.AttachmentIn) -> dict[str, Any]:
    record = _found(system, named_id)
    return attachments.new_upload(record.activity.sourceSystem, record.activity.activityId, record.status, request)


def view(system: str, named_id: str) -> dict[str, Any]:
    """The activity ``system`` names ``named_id``: under its source's id, with every system's id in ``links``."""
    record = _found(system, named_id)
    return {
        "activityId": record.activity.activityId,
        "sourceSystem": record.activity.sourceSystem,
        "activityType": record.activity.activityType,
        "status": record.status,
        "routedTo": record.routedTo,
        "links": record.links,
        "history": record.history,
        "refusals": record.refusals,
        "undelivered": sorted(record.undelivered.values(), key=lambda entry: (entry.get("at", ""), entry.get("eventId", ""))),
    }
