"""DA-02 incremental synchronization: a scheduled extract of the entities CCB reported changed.

A run is the sync monitor's sweep (:class:`~utilhub.syncrequests.monitor.SyncMonitor`), with this
module's plan and dispatch step: each shard is swept page by page (first its SENT requests past the
acknowledgement timeout are written again or go to ERROR, then its PENDING requests are read oldest
change first), the shards in turn, one page each, until every shard is swept or the run's time budget
(``UTILHUB_SYNC_MONITOR_BUDGET_SECONDS``, checked before each page) is spent; the rest waits for the
next run, which starts again from the oldest.

On each page the extract decides per entity with :func:`plan_newest`: an entity changed more than once
is written once, with its newest image on the page (the older requests are DISCARDED as superseded); an
image DACS already has, or one older than it, is DISCARDED; an entity whose previous image is still
awaiting DACS's acknowledgement waits for a later run. A SERVICE_AGREEMENT waits (WAITING, the engine's
parents) while its person or one of its service points is in ERROR or has a change not yet sent, so DACS never
gets a metered service before its contact; requests without parents are claimed first, and the run sweeps the
WAITING requests again at its end, so an agreement and its new person go in the same run. The chosen requests are claimed (SENT, the entity
in flight; 50 claims to a transaction), then mapped to DACS records and written to this run's files
(streamed to S3 in parts) before the next page is read, so a run holds one page, and one part per file,
in memory. A request whose data cannot make a DACS record is acknowledged NEGATIVE (ERROR with the reason).

The files appear under ``extract/`` only when the run closes them, one kind after another, contacts
first. A claim is given back (PENDING again) only while its record is in no complete file, so no record
is ever written into two files: a run that fails before closing (any failure, a shard AWS throttles
too: the run's files are one unit) gives back every claim; one that fails while closing keeps SENT the
claims of the files already complete (they reach DACS) and gives back the others.

Each page's claims are recorded (the claim's own transaction) under an id naming the run, until the run's
files are complete or its claims given back. A run stopped outright between claiming and closing (the
function's timeout, its invocation killed), or one whose giving back failed (throttled), leaves its
records: its requests stay SENT meanwhile, their entities in flight, so later runs write nothing of them,
and the files it left unfinished never appear (the bucket drops incomplete uploads after a day). The first
run after such a run cannot be alive (:data:`~utilhub.syncrequests.monitor.LONGEST_RUN`) gives back those
of its claims still SENT at their attempt whose file of their kind the bucket never held complete (the
versions of ``extract/<file>``), and writes them; the claims of a complete file stay SENT (DACS takes the
file). So nothing waits for DACS's time-out but what DACS itself did not complete (the engine's rule,
:mod:`utilhub.syncrequests.timeouts`: written again, then ERROR; with acknowledgements off the file's arrival
under ``upload/`` completes a request, :mod:`utilhub.packs.dacs.acknowledgements`). The budget keeps a run
far inside the function's timeout.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from utilhub.packs.dacs.extract_file import Kind
from utilhub.packs.dacs.extract_files import ExtractFiles
from utilhub.packs.dacs.mapping import KIND_OF_ENTITY, to_record
from utilhub.packs.dacs.records import DacsRecord
from utilhub.platform.aws import transient
from utilhub.platform.observability import logger
from utilhub.platform.reasons import exception_reason
from utilhub.syncrequests.delivery import Acknowledgements
from utilhub.syncrequests.lifecycle import Discard, EntityState, PendingRequest, Send, sortable_time
from utilhub.syncrequests.model import Acknowledgement, SyncStatus
from utilhub.syncrequests.monitor import Claim, MonitorReport, SyncMonitor
from utilhub.syncrequests.store import StaleTransition, SyncRequestStore


def plan_newest(pending: Sequence[PendingRequest], state: EntityState) -> list[Discard | Send]:
    """For one entity: the newest pending image is sent, every older one discarded as superseded;
    nothing is decided while an image of the entity is in flight or waiting for its parents."""
    if state.in_flight or state.waiting or not pending:
        return []
    ordered = sorted(pending, key=lambda r: r.order_key)
    newest = ordered[-1]
    decisions: list[Discard | Send] = [
        Discard(r, f"superseded by {newest.sync_request_id}, a newer change of the entity in the same extract", superseded=True)
        for r in ordered[:-1]
    ]
    last = state.last_sent_changed_at
    if last is not None and newest.changed_at < last:
        decisions.append(Discard(newest, f"older than the image already synchronized ({sortable_time(last)})"))
    elif newest.data_hash == state.last_sent_hash:
        decisions.append(Discard(newest, "unchanged since the last image synchronized", advances=True))
    else:
        decisions.append(Send(newest))
    return decisions


@dataclass
class ExtractReport:
    runId: str
    written: int = 0
    superseded: int = 0
    discarded: int = 0
    waiting: int = 0
    refused: int = 0
    held: int = 0  # put WAITING for a parent not yet sent to DACS (or in ERROR)
    released: int = 0  # WAITING requests whose parents are sent now, written
    timedOut: int = 0
    rewritten: int = 0  # timed out, written again as a new attempt
    skippedStale: int = 0
    requeued: int = 0  # claims given back (PENDING) because their file could not be completed
    unclaimed: int = 0  # claims of a run that stopped before their file was complete, given back (PENDING)
    pages: int = 0
    outOfTime: int = 0  # 1 when the budget ended the run before every shard was swept
    files: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def swept(self, sweep: MonitorReport) -> None:
        """Count what the sweep did (the dispatch step counts what it wrote and refused)."""
        self.superseded += sweep.superseded
        self.discarded += sweep.discarded
        self.waiting += sweep.waiting
        self.held += sweep.held
        self.released += sweep.released
        self.timedOut += sweep.timed_out
        self.rewritten += sweep.timeout_requeued
        self.skippedStale += sweep.skipped_stale
        self.unclaimed += sweep.unqueued
        self.pages += sweep.pages
        self.outOfTime = sweep.out_of_time


class _RunFiles:
    """The run's files, opened at its first record, and which claims are in which file (or in none yet)."""

    def __init__(self, open_files: Callable[[], ExtractFiles]) -> None:
        self._open_files = open_files
        self._files: ExtractFiles | None = None
        self._unwritten: dict[str, Claim] = {}
        self._in_file: dict[Kind, list[Claim]] = defaultdict(list)
        self.records: list[str] = []  # the claims records of the run, forgotten once its files are complete

    def recorded(self, records: Sequence[str]) -> None:
        self.records += records

    def claimed(self, claims: Sequence[Claim]) -> None:
        self._unwritten.update((claim[0].sync_request_id, claim) for claim in claims)

    def write(self, record: DacsRecord, claim: Claim) -> None:
        if self._files is None:
            self._files = self._open_files()
        self._files.write(record)
        self._in_file[record.kind].append(self._unwritten.pop(claim[0].sync_request_id))

    def drop(self, claim: Claim) -> None:
        """A claim that goes in no file (its request moved on, or was refused)."""
        del self._unwritten[claim[0].sync_request_id]

    def close(self) -> dict[str, int]:
        return self._files.close() if self._files is not None else {}

    def abort(self) -> list[Claim]:
        """Drop every file not complete; the claims whose records are in no complete file, to give back."""
        complete = self._files.completed if self._files is not None else {}
        if self._files is not None:
            try:
                self._files.abort()
            except Exception as exc:  # the bucket's lifecycle drops incomplete uploads after a day
                logger.warning("extract files not aborted", extra={"error": type(exc).__name__})
        given_back = list(self._unwritten.values())
        for kind, claims in self._in_file.items():
            if kind not in complete:
                given_back += claims
        return given_back


class _FileDispatch:
    """The sweep's dispatch step: each claim's record written into the run's files (a request whose data
    cannot make a record is acknowledged NEGATIVE).

    A page's claims are recorded under an id naming the run (``<run id>.<n>``) until the run's files are
    complete: the record and the files' names link each claim to the file its record went into. A run that
    stopped before forgetting its records (its invocation killed, or its claims not given back: throttled)
    leaves them to a later run, which gives back the claims whose file of their kind the bucket never held
    complete (its versions under ``extract/``, kept for days, though DA-03 moved it since), and keeps SENT
    those whose file is complete (DACS takes it; writing them again would load them twice)."""

    records_claims = True
    stopped_reason = "claimed by an extract run that stopped before its file was complete; written again"

    def __init__(
        self,
        store: SyncRequestStore,
        acknowledgements: Acknowledgements,
        files: _RunFiles,
        report: ExtractReport,
        files_of: Callable[[str], ExtractFiles],
    ) -> None:
        self._store = store
        self._acknowledgements = acknowledgements
        self._files = files
        self._report = report
        self._files_of = files_of

    def record_id(self) -> str:
        return f"{self._report.runId}.{uuid.uuid4().hex[:12]}"

    def dispatched(self, records: Sequence[str]) -> None:
        self._files.recorded(records)  # forgotten once the run's files are complete (IncrementalExtract.run)

    def stopped_claims(self, record: str, claims: Sequence[Claim]) -> list[Claim]:
        files = self._files_of(record.rsplit(".", 1)[0])
        complete: dict[Kind, bool] = {}
        given_back = []
        for claim in claims:
            kind = KIND_OF_ENTITY[claim[0].entity_type]
            if kind not in complete:
                complete[kind] = files.was_completed(kind)
            if not complete[kind]:
                given_back.append(claim)
        return given_back

    def dispatch(self, claims: Sequence[Claim], report: MonitorReport) -> None:
        self._files.claimed(claims)
        for claim in claims:
            pending, attempt = claim
            request = self._store.get(pending.sync_request_id)
            if request is None or request.status is not SyncStatus.SENT or request.attempt != attempt:
                self._files.drop(claim)  # moved on since the claim (resubmitted, timed out): not this run's
                continue
            try:
                record = to_record(request.entityType, request.entityId, request.changedAt, request.data)
            except (ValidationError, ValueError) as exc:
                self._files.drop(claim)
                self._acknowledgements.apply(
                    request, Acknowledgement(result="NEGATIVE", reason=f"could not be written for DACS: {exception_reason(exc)}")
                )
                self._report.refused += 1
                continue
            self._files.write(record, claim)
            self._report.written += 1


class IncrementalExtract:
    def __init__(
        self,
        store: SyncRequestStore,
        acknowledgements: Acknowledgements,
        files: Callable[[str], ExtractFiles],
        *,
        page_size: int,
        budget: timedelta = timedelta(seconds=90),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        ordered_types: frozenset[str] = frozenset(),
    ) -> None:
        self._ordered_types = ordered_types  # the entity types whose requests wait for their parents
        self._store = store
        self._acknowledgements = acknowledgements
        self._files = files
        self._page_size = page_size
        self._budget = budget
        self._now = clock
        self._monotonic = monotonic

    def at(self, clock: Callable[[], datetime]) -> IncrementalExtract:
        """This extract deciding by ``clock`` (a scheduled run's: :func:`utilhub.platform.scheduled.scheduled_clock`)."""
        run = copy.copy(self)
        run._now = clock
        return run

    def run(self) -> ExtractReport:
        report = ExtractReport(runId=f"{self._now():%Y%m%dT%H%M%S%fZ}-incremental")
        files = _RunFiles(lambda: self._files(report.runId))
        sweep = SyncMonitor(
            self._store,
            _FileDispatch(self._store, self._acknowledgements, files, report, self._files),
            "dacs",
            page_size=self._page_size,
            clock=self._now,
            target="DACS",
            budget=self._budget,
            monotonic=self._monotonic,
            plan=plan_newest,
            ordered_types=self._ordered_types,
            # a metered service whose contact (or service point) has a change not yet sent, or in ERROR, waits for it
            parents_ready_once_sent=True,  # DACS imports contacts and service points before metered services
            tolerate_shard_failures=False,  # the run's files are one unit: any failure aborts them
        )
        try:
            report.swept(sweep.run())
            report.files = files.close()
        except Exception:
            if self._give_back(files.abort(), report):
                self._forget(files.records)
            raise
        self._forget(files.records)
        logger.info("DACS incremental extract", extra={k: v for k, v in report.as_dict().items() if k != "files"})
        return report

    def _give_back(self, claims: list[Claim], report: ExtractReport) -> bool:
        """PENDING again, for the next run: the claims whose records are in no complete file; whether every one was."""
        every = True
        for pending, attempt in claims:
            try:
                self._store.unclaim(pending, attempt, "the extract files could not be written; retried at the next run")
                report.requeued += 1
            except StaleTransition:
                report.skippedStale += 1
            except Exception as exc:  # it stays SENT, its claims record kept: a run after LONGEST_RUN gives it back
                logger.warning("claim not given back", extra={"syncRequestId": pending.sync_request_id, "error": type(exc).__name__})
                every = False
        return every

    def _forget(self, records: list[str]) -> None:
        """The run's claims are in complete files or given back: nothing is left for a later run to find."""
        try:
            self._store.forget_claims(records)
        except Exception as exc:
            if not transient(exc):
                raise
            # left: a later run finds the files complete and keeps their claims, gives back the others still SENT
            logger.warning("claims records not forgotten", extra={"flow": "dacs", "error": type(exc).__name__})
