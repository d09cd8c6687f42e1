"""The deferred sync request monitor: runs on a schedule, one flow per function.

The monitor sweeps a flow's requests and claims what must go; a dispatch step it is given takes the
claims (:class:`Dispatch`): :class:`QueueDispatch` queues them for the flow's delivery function (the
MDM, WAM and ODM flows), DACS's extract writes them into its run's files
(:mod:`utilhub.packs.dacs.incremental`). So every flow has the same sweep, budget and time-outs.

Per run: for each shard, queue again (or, after the last re-queue, move to ERROR) the SENT requests
whose acknowledgement did not come in time (:mod:`~utilhub.syncrequests.timeouts`);
release the WAITING requests whose parents the target now holds (or record why they still
wait); read PENDING requests oldest first, decide per entity with
:func:`~utilhub.syncrequests.lifecycle.plan_entity`, discard, or claim what can be sent and
hold WAITING what depends on an entity the target does not hold yet
(:func:`~utilhub.syncrequests.lifecycle.blocking_parent`); dispatch what was claimed (the queue:
SendMessageBatch, 10 per call; FIFO group = entity, so order is kept). How a flow decides per entity
is its own too (``plan``: the engine's oldest first, or DACS's newest image).

A run drains a backlog in pages: each shard is swept once, page by page (WAITING, then PENDING),
the shards in turn, one page each, until every shard is swept or the run's time budget
(``UTILHUB_SYNC_MONITOR_BUDGET_SECONDS``) is spent; the next run starts again from the oldest.
What a page claimed is dispatched before the next page is read, so a run holds one page in memory
(and the keys of the entities it left waiting) and a run that stops (budget, failure) leaves
nothing claimed and not dispatched. Within a run, an entity whose request was claimed on one page is
seen in flight on the next, and an entity with a request left PENDING on one page is not decided
again on a later one, even when its request in flight is acknowledged in between: one in flight
per entity, oldest first, holds across pages.

With a dispatch step that records its claims (every flow's), a claim's transaction also records what it
claimed, and the record is forgotten once its claims reached the target's way in (the queue's messages sent,
DACS's files complete) or were given back. A run that stops in between (its invocation killed, or the
dispatch and the giving back both failing) leaves the record: a run that finds one older than a Lambda
invocation can live (:data:`LONGEST_RUN`) gives back to PENDING those of its claims still SENT at their
attempt that the dispatch step says never reached the target (the queue: all; DACS: those whose record is
in no complete file), and sends them: PENDING again, never ERROR.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import single_metric

from utilhub.platform.aws import transient
from utilhub.platform.observability import NAMESPACE, MetricUnit, logger, metrics, tracer
from utilhub.syncrequests.lifecycle import (
    Blocked,
    Discard,
    EntityState,
    PendingRequest,
    Send,
    blocking_parent,
    blocking_unsent_parent,
    dependants_released,
    plan_entity,
)
from utilhub.syncrequests.model import DeliveryMessage, SyncRequest, SyncStatus
from utilhub.syncrequests.store import CLAIMS_PER_TRANSACTION, StaleTransition, SyncRequestStore
from utilhub.syncrequests.timeouts import time_out_due

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

Claim = tuple[PendingRequest, int]  # a request claimed SENT, and its new attempt
Plan = Callable[[Sequence[PendingRequest], EntityState], list[Discard | Send]]

# no Lambda invocation lives longer: a claims record this old belongs to a run that stopped
LONGEST_RUN = timedelta(minutes=15)
# a release (or its next step) starts only with this much of its invocation left: enough for its calls at the clients'
# read time-out (5 s), so it is not killed between its claim and its queueing (which would leave the request SENT and
# not queued until a monitor run gives it back, LONGEST_RUN later); what it does not start the monitor's next run does
RELEASE_MARGIN_MS = 5_000
Remaining = Callable[[], int]  # the invocation's time left, in milliseconds (the Lambda context's)
# an outcome owed to CCB this long after its transition was written was not queued by its writer (which queues it
# right after the write): the monitor queues it again (were the writer still at it, CCB would still hear it once)
OUTCOME_GRACE = timedelta(minutes=2)


class Claimed(list[Claim]):
    """What a page claimed (each request with its new attempt), and the ids the claims are recorded under
    until they are dispatched."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[str] = []


@dataclass
class MonitorReport:
    discarded: int = 0
    superseded: int = 0  # discarded as older than a newer image of the entity sent in their place
    queued: int = 0
    waiting: int = 0
    held: int = 0
    released: int = 0
    timed_out: int = 0  # time-outs that went to ERROR (their re-queues spent)
    timeout_requeued: int = 0  # time-outs queued again as a new attempt
    requeued: int = 0  # claims given back to PENDING because their message could not be queued (the queue's dispatch)
    unqueued: int = 0  # claims of a run that stopped before queueing them, given back to PENDING
    outcomes_retold: int = 0  # final outcomes whose queueing for CCB had failed, queued again (syncrequests/outcomes.py)
    skipped_stale: int = 0
    pages: int = 0
    failed_shards: int = 0  # shards left for the next run after a transient AWS failure
    out_of_time: int = 0  # 1 when the budget ended the run before every shard was swept
    # how long the oldest request this run kept WAITING has waited (since it went WAITING, or its reason last
    # changed): a parent CCB never sends shows here
    oldest_waiting_seconds: int = 0
    # of ``waiting``, the WAITING requests still blocked when swept (not a metric: a second pass counts them again)
    still_blocked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


def per_flow(flow: str, report: MonitorReport) -> None:
    """The run's requests put waiting, timed out to ``ERROR`` and its oldest wait again, with the dimension ``flow``
    (the pack's name): what the pack's dashboard shows (docs/metrics.md); the hub's alarms read them without it."""
    for name, unit, value in (
        ("SyncRequestsWaiting", MetricUnit.Count, report.waiting),
        ("SyncRequestsTimedOut", MetricUnit.Count, report.timed_out),
        ("SyncRequestsOldestWaitingSeconds", MetricUnit.Seconds, report.oldest_waiting_seconds),
    ):
        if value:
            with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
                metric.add_dimension(name="flow", value=flow)


class Dispatch(Protocol):
    """The monitor's last step: where the requests it claimed go."""

    # Whether a claim is recorded until it has reached its target's way in (the queue, a complete file): a run
    # stopped in between leaves the record, and a later run gives such claims back to PENDING. Without, a stopped
    # run's claims stay SENT until their time-out.
    records_claims: bool
    # the reason a stopped run's claim given back to PENDING carries
    stopped_reason: str

    def dispatch(self, claims: Sequence[Claim], report: MonitorReport) -> None:
        """Dispatch each claim, or give it back to PENDING (:meth:`SyncRequestStore.unclaim`)."""

    def record_id(self) -> str:
        """A new id to record a page's claims under (with ``records_claims``)."""

    def dispatched(self, records: Sequence[str]) -> None:
        """The claims recorded under ``records`` were dispatched (or given back): their records are forgotten once
        nothing a later run could find remains to be done (the queue: now; DACS's files: once complete)."""

    def stopped_claims(self, record: str, claims: Sequence[Claim]) -> list[Claim]:
        """Of the claims a stopped run recorded under ``record``, those to give back to PENDING (not those that
        reached the target's way in before the run stopped)."""


class QueueDispatch:
    """Claims to the flow's delivery queue, one message per claim (FIFO group = entity); a claim whose
    message could not be queued is given back to PENDING, for the next run."""

    records_claims = True
    stopped_reason = "claimed by a monitor run that stopped before queueing it; retried"

    def __init__(self, store: SyncRequestStore, sqs: SQSClient, queue_url: str, flow: str) -> None:
        self._store = store
        self._sqs = sqs
        self._queue_url = queue_url
        self._flow = flow

    def record_id(self) -> str:
        return uuid.uuid4().hex

    def dispatched(self, records: Sequence[str]) -> None:
        try:  # every claim is queued or given back: nothing for a later run to find
            self._store.forget_claims(records)
        except Exception as exc:
            if not transient(exc):
                raise
            # left: a later run gives back those still SENT at their attempt (a duplicate send at worst)
            logger.warning("claims records not forgotten", extra={"flow": self._flow, "error": type(exc).__name__})

    def stopped_claims(self, record: str, claims: Sequence[Claim]) -> list[Claim]:
        return list(claims)  # still SENT at its attempt, a claim was never queued (or queued and not yet taken)

    def dispatch(self, claims: Sequence[Claim], report: MonitorReport) -> None:
        for start in range(0, len(claims), 10):
            chunk = claims[start : start + 10]
            entries = [
                {
                    "Id": str(index),
                    "MessageBody": DeliveryMessage(
                        flow=self._flow, syncRequestId=r.sync_request_id, attempt=attempt, correlationId=r.correlation_id
                    ).model_dump_json(),
                    "MessageGroupId": f"{r.entity_type}#{r.entity_id}",
                    "MessageDeduplicationId": f"{r.sync_request_id}-{attempt}",
                    "MessageAttributes": {"correlationId": {"DataType": "String", "StringValue": r.correlation_id or "-"}},
                }
                for index, (r, attempt) in enumerate(chunk)
            ]
            try:
                response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)  # type: ignore[arg-type]
                failed = {int(f["Id"]): f.get("Message", f["Code"]) for f in response.get("Failed", [])}
            except Exception as exc:  # the whole call failed: give every claim back
                logger.warning("queueing failed", extra={"flow": self._flow, "error": type(exc).__name__})
                failed = {index: type(exc).__name__ for index in range(len(chunk))}
            report.queued += len(chunk) - len(failed)
            for index, why in failed.items():
                request, attempt = chunk[index]
                try:
                    self._store.unclaim(request, attempt, f"could not be queued ({why}); retried at the next run")
                    report.requeued += 1
                except StaleTransition:
                    report.skipped_stale += 1


class SyncMonitor:
    """The sweep of one flow. ``plan`` decides per entity (default: the engine's, oldest first);
    ``sweeps`` are the statuses read, in turn (a flow that holds nothing WAITING reads only PENDING);
    with ``tolerate_shard_failures`` a shard AWS throttles waits for the next run while the others go
    on, without it any failure ends the run (a dispatch step whose run is one unit, as DACS's files).
    With ``parents_ready_once_sent`` a parent need only have been sent (in flight, or never seen by the engine), not
    acknowledged (:func:`~utilhub.syncrequests.lifecycle.blocking_unsent_parent`: a target importing parents first),
    and once every shard is swept the WAITING requests are swept again, so a request held for a parent this run sent
    later (another shard, a later page) goes in this run."""

    def __init__(
        self,
        store: SyncRequestStore,
        dispatch: Dispatch,
        flow: str,
        *,
        page_size: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        target: str = "the target",
        ordered_types: frozenset[str] = frozenset(),
        budget: timedelta = timedelta(seconds=90),
        monotonic: Callable[[], float] = time.monotonic,
        plan: Plan = plan_entity,
        sweeps: tuple[SyncStatus, ...] = (SyncStatus.WAITING, SyncStatus.PENDING),
        tolerate_shard_failures: bool = True,
        parents_ready_once_sent: bool = False,
    ) -> None:
        self._parents_ready_once_sent = parents_ready_once_sent
        self._budget = budget.total_seconds()
        self._monotonic = monotonic
        self._target = target
        self._ordered_types = ordered_types
        self._store = store
        self._dispatch = dispatch
        self._flow = flow
        self._page_size = page_size
        self._now = clock
        self._plan = plan
        self._sweeps = sweeps
        self._tolerate_shard_failures = tolerate_shard_failures

    def at(self, clock: Callable[[], datetime]) -> SyncMonitor:
        """This monitor deciding by ``clock`` (a scheduled run's: :func:`utilhub.platform.scheduled.scheduled_clock`)."""
        run = copy.copy(self)
        run._now = clock
        return run

    @tracer.capture_method
    def run(self) -> MonitorReport:
        report = MonitorReport()
        deadline = self._monotonic() + self._budget
        if self._dispatch.records_claims:
            self._give_back_unqueued(report)
        if self._store.tells_ccb:
            self._tell_owed(report)
        failure = self._pages(deadline, report, {shard: self._sweep(shard, report) for shard in self._store.shards})
        if self._parents_ready_once_sent and failure is None and not report.out_of_time:
            # the requests held this run for a parent this run sent since (another shard, a later page) go in this run too
            again = MonitorReport()
            failure = self._pages(deadline, again, {shard: self._sweep(shard, again, waiting_only=True) for shard in self._store.shards})
            report.released += again.released
            report.skipped_stale += again.skipped_stale
            report.pages += again.pages
            report.failed_shards += again.failed_shards
            report.out_of_time = again.out_of_time
            if failure is None and not again.out_of_time:
                # every WAITING request was swept again: what still waits is the second pass's count (what the first
                # counted and the second released went out: the waiting-too-long alarm must not see it)
                report.waiting += again.waiting - len(report.still_blocked)
                report.oldest_waiting_seconds = again.oldest_waiting_seconds
        if failure is not None and report.failed_shards == len(self._store.shards):
            raise failure  # nothing could be worked: the run fails, and the next one starts again
        for name, value in report.as_dict().items():
            if value:
                unit = MetricUnit.Seconds if name.endswith("_seconds") else MetricUnit.Count
                metrics.add_metric(name=f"SyncRequests{name.title().replace('_', '')}", unit=unit, value=value)
        per_flow(self._flow, report)
        logger.info("sync monitor run", extra={"flow": self._flow, **report.as_dict()})
        return report

    def _pages(self, deadline: float, report: MonitorReport, sweeps: dict[int, Iterator[int]]) -> Exception | None:
        """One page of each shard's sweep in turn until every sweep is done or the budget spent; the last transient
        failure a shard was left for the next run by."""
        failure: Exception | None = None
        while sweeps and not report.out_of_time:
            for shard, sweep in list(sweeps.items()):  # one page of each shard in turn: no shard waits for another's backlog
                if self._monotonic() >= deadline:  # checked before every page: a run overruns its budget by one page at most
                    report.out_of_time = 1
                    break
                try:
                    if next(sweep, None) is not None:
                        continue
                except Exception as exc:
                    if not (self._tolerate_shard_failures and transient(exc)):
                        raise
                    # throttled or unavailable beyond the SDK's retries: this shard waits for the next run, the others go on
                    logger.warning("shard left for the next run", extra={"flow": self._flow, "shard": shard, "error": type(exc).__name__})
                    report.failed_shards += 1
                    failure = exc
                del sweeps[shard]
        return failure

    def _sweep(self, shard: int, report: MonitorReport, *, waiting_only: bool = False) -> Iterator[int]:
        """Work one shard, one page per step: time out what waited too long for its acknowledgement, then
        its WAITING requests, then its PENDING ones, oldest first (``waiting_only``: its WAITING requests only)."""
        if not waiting_only:
            self._time_out(shard, report)
        # entities left with a request PENDING on an earlier page of this sweep: their later requests wait
        # for the next run, even if the one in flight is acknowledged meanwhile (else a newer change would
        # go out past the older one left behind, which would then be discarded)
        left: set[tuple[str, str]] = set()
        for status in (SyncStatus.WAITING,) if waiting_only else self._sweeps:
            start: dict[str, Any] | None = None
            while True:
                page, start = self._store.pending_page(shard, self._page_size, start, status=status)
                if page:
                    claimed = Claimed()
                    try:
                        if status is SyncStatus.WAITING:
                            self._send_or_hold(page, report, claimed)
                        else:
                            self._plan_page(page, report, claimed, left)
                    finally:  # whatever stops the page, what it claimed is dispatched (or given back)
                        self._dispatch_claimed(claimed, report)
                    report.pages += 1
                    yield len(page)
                if start is None:
                    break

    def _plan_page(
        self,
        page: list[PendingRequest],
        report: MonitorReport,
        claimed: Claimed,
        left: set[tuple[str, str]],
    ) -> dict[tuple[str, str], EntityState]:
        """Discard what need not be sent, and claim (or hold WAITING) what must, entity by entity; an
        entity in ``left`` (a request of it stays PENDING on an earlier page) is not decided again. Returns the
        entities' states as read before deciding."""
        by_entity: dict[tuple[str, str], list[PendingRequest]] = defaultdict(list)
        for request in page:
            by_entity[(request.entity_type, request.entity_id)].append(request)
        for entity in by_entity.keys() & left:
            report.waiting += len(by_entity.pop(entity))
        states = self._store.entity_states(by_entity) if by_entity else {}
        sends: list[PendingRequest] = []
        for entity, pending in by_entity.items():
            decisions = self._plan(pending, states[entity])
            report.waiting += len(pending) - len(decisions)
            if len(decisions) < len(pending):
                left.add(entity)
            for decision in decisions:
                if not isinstance(decision, Discard):
                    sends.append(decision.request)  # a Send is always an entity's last decision
                    continue
                try:
                    self._store.discard(decision.request, decision.reason, advances=decision.advances)
                except StaleTransition:
                    # another monitor run, or a resubmission, moved it first: nothing is lost
                    report.skipped_stale += 1
                    break
                if decision.superseded:
                    report.superseded += 1
                else:
                    report.discarded += 1
        self._send_or_hold(sends, report, claimed)
        return states

    def _send_or_hold(self, requests: list[PendingRequest], report: MonitorReport, claimed: Claimed, *, renote: bool = False) -> None:
        """Claim each request whose parents the target holds; hold (or keep) the others WAITING with the reason, noted
        on the parent that holds them (``renote``: also one whose reason is unchanged, taken off its parent's notes; its
        reason, history and waiting age are left as they are).
        Requests that depend on nothing are claimed first, so a child on the same page sees its parent in flight."""
        free = [r for r in requests if r.entity_type not in self._ordered_types]
        self._claim(free, report, claimed)
        ordered = [r for r in requests if r.entity_type in self._ordered_types]
        noted_on: dict[str, list[tuple[str, str]]] = defaultdict(list)  # request -> the parents whose notes list it
        blocked = self._blockers(ordered, noted_on)
        ready: list[PendingRequest] = []
        noted: dict[tuple[str, str], list[str]] = defaultdict(list)  # parent -> the requests held for it now
        for request in ordered:
            block, stored_reason = blocked.get(request.sync_request_id, (None, None))
            if block is None:
                ready.append(request)
                continue
            try:
                if request.status is SyncStatus.WAITING:
                    if block.reason != stored_reason:
                        self._store.still_waiting(request, block)
                        noted[block.parent].append(request.sync_request_id)
                    elif renote:  # taken off a parent's notes and held for the same reason: noted again, nothing written
                        noted[block.parent].append(request.sync_request_id)
                    report.waiting += 1
                    report.still_blocked.append(request.sync_request_id)
                    age = int((self._now() - request.in_status_since).total_seconds())
                    report.oldest_waiting_seconds = max(report.oldest_waiting_seconds, age)
                else:
                    self._store.hold(request, block)
                    noted[block.parent].append(request.sync_request_id)
                    report.held += 1
            except StaleTransition:
                report.skipped_stale += 1
        already = len(claimed)
        self._claim(ready, report, claimed)  # before the notes: a note not written never keeps the ready ones back
        if noted and not self._parents_ready_once_sent:  # so the parent's acknowledgement releases them (:meth:`release`)
            self._store.note_dependants(noted)
        sent: dict[tuple[str, str], list[str]] = defaultdict(list)  # a parent -> its noted requests sent now
        for request, _ in claimed[already:]:
            for parent in noted_on.get(request.sync_request_id, []):
                sent[parent].append(request.sync_request_id)
        if sent:  # sent by the sweep (or noted on a parent other than the releasing one): its notes would stay forever
            self._store.forget_dependants(sent)

    @tracer.capture_method
    def release(self, requests: Sequence[SyncRequest], remaining: Remaining | None = None) -> MonitorReport:
        """Send at once what ``requests`` let go, with the sweep's own per-entity code: each request's entity planned
        again (:meth:`_plan_page`, oldest first; for a request just made final, its entity's next change; for one just
        received, itself when its entity has nothing in flight) and, for an entity the target now holds, the requests
        held WAITING for it (:meth:`_send_or_hold`); what is claimed is dispatched. The same conditional claims as the
        sweep, so a monitor run working the same entity meanwhile never sends a change twice (one of the two claims
        fails its condition). Whatever this misses or fails to do (AWS throttling, the index not yet holding a request
        just written) the monitor's next run does: the failure is logged and counted (``SyncReleasesLeftToMonitor``), never
        raised, as the transition that called it is written. With ``remaining`` (the invocation's time left), a release
        with less than :data:`RELEASE_MARGIN_MS` left is not started, and one that runs short stops before its next
        step (the entity's plan, each parent's children), its claims dispatched: the rest is the monitor's
        (``out_of_time`` in the report)."""
        report = MonitorReport()
        claimed = Claimed()

        def out_of_time() -> bool:
            if remaining is None or remaining() >= RELEASE_MARGIN_MS:
                return False
            report.out_of_time = 1
            logger.info("release left to the monitor: too little time left", extra={"flow": self._flow})
            return True

        try:
            try:
                if out_of_time():
                    return report
                pending = self._store.open_pending(requests)
                states = self._plan_page(pending, report, claimed, set()) if pending else {}
                if not self._parents_ready_once_sent:
                    entities = {(r.entityType, r.entityId) for r in requests}
                    # the states the plan read serve again (read after the transition that called this): one read each
                    known = {entity: states[entity] for entity in entities if entity in states}
                    if unread := entities - known.keys():
                        known.update(self._store.entity_states(unread))
                    for parent, ids in dependants_released(known, self._target).items():
                        if out_of_time():  # its notes stay: the monitor's sweep sends the children
                            break
                        if children := self._store.take_dependants(parent, ids):
                            self._send_or_hold(children, report, claimed, renote=True)
            finally:  # what was claimed is dispatched (or given back), as at the end of a page
                self._dispatch_claimed(claimed, report)
        except Exception as exc:
            # a claim neither queued nor given back keeps its claims record: a monitor run gives it back (LONGEST_RUN).
            # Not raised whatever it is: the transition that called this is written, and failing its caller would only
            # have a delivery tried again (its entity's queue group held meanwhile) or an intake answer 500. One no retry
            # will change (a grant missing, a defect) is logged as an error, with its trace, for the operator.
            extra = {"flow": self._flow, "error": type(exc).__name__}
            if transient(exc) or isinstance(exc, StaleTransition):
                logger.warning("release left to the monitor", extra=extra)
            else:
                logger.exception("release left to the monitor", extra=extra)
            metrics.add_metric(name="SyncReleasesLeftToMonitor", unit=MetricUnit.Count, value=1)
        if report.queued:
            metrics.add_metric(name="SyncRequestsSentAtOnce", unit=MetricUnit.Count, value=report.queued)
        return report

    def _claim(self, ready: list[PendingRequest], report: MonitorReport, claimed: Claimed) -> None:
        for start in range(0, len(ready), CLAIMS_PER_TRANSACTION):  # each chunk's claims kept before the next is written
            chunk = ready[start : start + CLAIMS_PER_TRANSACTION]
            record = self._dispatch.record_id() if self._dispatch.records_claims else None
            attempts = self._store.claim_many(chunk, record=record)
            if record is not None:
                claimed.records.append(record)
            for request, attempt in zip(chunk, attempts, strict=True):
                if attempt is None:  # another monitor run, or a resubmission, moved it first: nothing is lost
                    report.skipped_stale += 1
                    continue
                claimed.append((request, attempt))
                report.released += request.status is SyncStatus.WAITING

    def _blockers(
        self, requests: list[PendingRequest], noted_on: dict[str, list[tuple[str, str]]]
    ) -> dict[str, tuple[Blocked | None, str | None]]:
        """For each request: the parent that keeps it from being sent (None: it can go), and the reason it waits now;
        ``noted_on`` gets, for each request, the parents whose ``dependants`` list it (from the same read)."""
        if not requests:
            return {}
        parents = self._store.parents_of_requests(r.sync_request_id for r in requests)
        states = self._store.entity_states(parent for listed, _ in parents.values() for parent in listed)
        for sync_request_id, (listed, _) in parents.items():
            noted_on[sync_request_id].extend(p for p in listed if sync_request_id in states[p].dependants)
        if self._parents_ready_once_sent:
            unsent = self._store.open_requests(e for e, state in states.items() if not state.in_flight and not state.last_error_id)
            return {
                sync_request_id: (blocking_unsent_parent(listed, states, unsent, self._target), reason)
                for sync_request_id, (listed, reason) in parents.items()
            }
        return {
            sync_request_id: (blocking_parent(listed, states, self._target), reason)
            for sync_request_id, (listed, reason) in parents.items()
        }

    def _dispatch_claimed(self, claimed: Claimed, report: MonitorReport) -> None:
        if claimed:
            self._dispatch.dispatch(claimed, report)
        if claimed.records:
            self._dispatch.dispatched(claimed.records)

    def _time_out(self, shard: int, report: MonitorReport) -> None:
        done = time_out_due(self._store, shard, self._now(), self._page_size, self._target)
        report.timed_out += done.failed
        report.timeout_requeued += len(done.requeued)
        report.skipped_stale += done.stale
        if done.requeued:
            self._dispatch.dispatch(done.requeued, report)

    def _tell_owed(self, report: MonitorReport) -> None:
        """Queue again, shard by shard, the final outcomes CCB is owed whose writer failed to queue them."""
        for shard in self._store.shards:
            try:
                report.outcomes_retold += self._store.tell_owed(shard, self._now() - OUTCOME_GRACE, self._page_size)
            except Exception as exc:
                if not transient(exc):
                    raise
                # throttled: the marks stay, and the next run queues them
                logger.warning(
                    "owed outcomes left for the next run", extra={"flow": self._flow, "shard": shard, "error": type(exc).__name__}
                )

    def _give_back_unqueued(self, report: MonitorReport) -> None:
        """Give the claims a stopped run recorded and never dispatched back to PENDING; this run sends them."""
        try:
            stopped = self._store.unqueued_claims(self._now() - LONGEST_RUN, self._page_size)
            for record, claims in stopped:
                for request, attempt in self._dispatch.stopped_claims(record, claims):
                    try:
                        self._store.unclaim(request, attempt, self._dispatch.stopped_reason)
                        report.unqueued += 1
                    except StaleTransition:  # it was queued after all, and worked since
                        report.skipped_stale += 1
                self._store.forget_claims([record])
        except Exception as exc:
            if not transient(exc):
                raise
            # throttled: the records stay, and the next run gives them back
            logger.warning("unqueued claims left for the next run", extra={"flow": self._flow, "error": type(exc).__name__})
