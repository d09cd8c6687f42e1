"""DA-02 incremental synchronization: a scheduled extract of the entities CCB reported changed.

Each run reads the DACS flow's PENDING sync requests (shard by shard, up to ``MAX_PAGES`` pages of
each) and decides per entity with :func:`plan_newest`: an entity changed more than once since the last
extract is written once, with its newest image (the older requests are DISCARDED as superseded); an
image DACS already has, or one older than it, is DISCARDED; an entity whose previous image is still
awaiting DACS's acknowledgement waits for the next run. The chosen requests are claimed (SENT, the
entity in flight), mapped to DACS records and written to this run's files under ``extract/``; if the
files cannot be written every claim is given back (PENDING again) and nothing appears. DA-04's
acknowledgements then move each request to SYNCHRONIZED or ERROR (with acknowledgements off, the file's
arrival under ``upload/`` completes it, :mod:`utilhub.packs.dacs.acknowledgements`); a request not
complete in time is written again, then ERROR, by the engine's rule (:mod:`utilhub.syncrequests.timeouts`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from utilhub.packs.dacs.extract_files import ExtractFiles
from utilhub.packs.dacs.mapping import to_record
from utilhub.platform.observability import logger
from utilhub.syncrequests.delivery import Acknowledgements
from utilhub.syncrequests.lifecycle import Discard, EntityState, PendingRequest, Send, sortable_time
from utilhub.syncrequests.model import Acknowledgement, SyncStatus
from utilhub.syncrequests.store import StaleTransition, SyncRequestStore
from utilhub.syncrequests.timeouts import time_out_due

MAX_PAGES = 20


def plan_newest(pending: Sequence[PendingRequest], state: EntityState) -> list[Discard | Send]:
    """For one entity: the newest pending image is sent, every older one discarded as superseded;
    nothing is decided while an image of the entity is in flight."""
    if state.in_flight or not pending:
        return []
    ordered = sorted(pending, key=lambda r: r.order_key)
    newest = ordered[-1]
    decisions: list[Discard | Send] = [
        Discard(r, f"superseded by {newest.sync_request_id}, a newer change of the entity in the same extract") for r in ordered[:-1]
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
    timedOut: int = 0
    rewritten: int = 0  # timed out, written again as a new attempt
    skippedStale: int = 0
    files: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class IncrementalExtract:
    def __init__(
        self,
        store: SyncRequestStore,
        acknowledgements: Acknowledgements,
        files: Callable[[str], ExtractFiles],
        *,
        page_size: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._acknowledgements = acknowledgements
        self._files = files
        self._page_size = page_size
        self._now = clock

    def run(self) -> ExtractReport:
        report = ExtractReport(runId=f"{self._now():%Y%m%dT%H%M%S%fZ}-incremental")
        claimed: list[tuple[PendingRequest, int]] = []
        for shard in self._store.shards:
            self._time_out(shard, report, claimed)
            self._plan_shard(shard, report, claimed)
        if claimed:
            self._write(claimed, report)
        logger.info("DACS incremental extract", extra={k: v for k, v in report.as_dict().items() if k != "files"})
        return report

    def _plan_shard(self, shard: int, report: ExtractReport, claimed: list[tuple[PendingRequest, int]]) -> None:
        by_entity: dict[tuple[str, str], list[PendingRequest]] = defaultdict(list)
        start: dict[str, Any] | None = None
        for _ in range(MAX_PAGES):  # every pending image of an entity is seen before it is decided
            page, start = self._store.pending_page(shard, self._page_size, start)
            for request in page:
                by_entity[(request.entity_type, request.entity_id)].append(request)
            if start is None:
                break
        if not by_entity:
            return
        states = self._store.entity_states(by_entity)
        for entity, pending in by_entity.items():
            decisions = plan_newest(pending, states[entity])
            report.waiting += len(pending) - len(decisions)
            for decision in decisions:
                try:
                    if isinstance(decision, Discard):
                        self._store.discard(decision.request, decision.reason, advances=decision.advances)
                        if decision.reason.startswith("superseded"):
                            report.superseded += 1
                        else:
                            report.discarded += 1
                    else:
                        claimed.append((decision.request, self._store.claim(decision.request)))
                except StaleTransition:  # another run, or a resubmission, moved it first
                    report.skippedStale += 1
                    break

    def _write(self, claimed: list[tuple[PendingRequest, int]], report: ExtractReport) -> None:
        files = self._files(report.runId)
        refused: list[tuple[Any, str]] = []
        try:
            for pending, _attempt in claimed:
                request = self._store.get(pending.sync_request_id)
                if request is None or request.status is not SyncStatus.SENT:
                    continue
                try:
                    record = to_record(request.entityType, request.entityId, request.changedAt, request.data)
                except (ValidationError, ValueError) as exc:
                    refused.append((request, f"could not be written for DACS: {str(exc)[:1500]}"))
                    continue
                files.write(record)
                report.written += 1
            report.files = files.close()
        except Exception:
            files.abort()
            for pending, attempt in claimed:
                try:
                    self._store.unclaim(pending, attempt, "the extract files could not be written; retried at the next run")
                except StaleTransition:
                    report.skippedStale += 1
            raise
        for request, reason in refused:
            self._acknowledgements.apply(request, Acknowledgement(result="NEGATIVE", reason=reason))
            report.refused += 1

    def _time_out(self, shard: int, report: ExtractReport, claimed: list[tuple[PendingRequest, int]]) -> None:
        """What waited too long for DACS (or, with acknowledgements off, for its file to reach ``upload/``):
        written again in this run's files as a new attempt, or ERROR after its last (the engine's rule)."""
        done = time_out_due(self._store, shard, self._now(), self._page_size, "DACS")
        report.timedOut += done.failed
        report.rewritten += len(done.requeued)
        report.skippedStale += done.stale
        claimed.extend(done.requeued)
