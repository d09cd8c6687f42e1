"""MD-11 batch bill determinants: a bill run's usage requests, fanned out to MDM, their determinants
delivered to CCB once.

Lifecycle of a usage request (one item per ``usageRequestId`` in the usage request table; every
transition conditional and recorded in ``history`` with its time and reason):

``AWAITING_DATA_SYNC`` -> ``PENDING`` -> ``SENT`` -> ``COMPLETED`` | ``ERROR``

- intake (single or ``:batch`` of up to 1,000): a request whose SA, or one of the SA's service points
  (or an SP-meter history of one of them), still has a sync request to MDM that is not SYNCHRONIZED or
  DISCARDED (PENDING, WAITING, SENT, or the entity's last one in ERROR) is stored ``AWAITING_DATA_SYNC``
  (Oracle's integration: the usage must be computed from the data MDM will hold); the others are stored
  ``PENDING`` and queued. The same id with the same content again changes nothing; with other content it
  is a conflict.
- the release schedule (:func:`release`) takes the waiting requests whose data is synchronized now to
  ``PENDING`` and queues them; it also queues again a ``PENDING`` request whose message was lost
  (older than :data:`REQUEUE_AFTER`): the worker makes a second message harmless. A request still waiting
  after the waiting bound (setting ``usage_request_data_sync_wait_seconds``: its SA's data behind a sync request in
  ERROR, or one never completed) goes to ``ERROR`` with what it waits for. A request ``SENT``
  for longer than the retry window (setting ``usage_request_retry_window_seconds``, above the queue's
  maxReceiveCount x VisibilityTimeout: its message is in the DLQ by then) and held by no attempt goes
  to ``ERROR`` with the reason.
- :meth:`UsageRequests.resubmit`: a request in ``ERROR`` runs again, ``AWAITING_DATA_SYNC`` or ``PENDING`` by the
  intake's rule, keeping determinants MDM gave an earlier attempt (CCB gets the same ones again: billed once).
- the worker (:func:`deliver_batch`, SQS with partial batch responses): ``PENDING`` -> ``SENT`` with a
  lease for this attempt (``leaseUntil``: the invocation's deadline and a margin; a redelivered ``SENT``
  request is leased again only when no other attempt holds it), MDM's bill determinants, kept on the
  request (``determinantsZ``: a later attempt sends the same ones again without asking MDM), CCB's
  delivery (CCB keeps determinants per usage request and answers the same ones again as the first time),
  then ``COMPLETED`` with the result. A redelivered or duplicated message finds ``COMPLETED`` and changes
  nothing. MDM or CCB down: the lease is given back and the message is redelivered by the queue (then
  its DLQ); MDM or CCB refusing the request (an SA MDM does not hold, determinants CCB refuses):
  ``ERROR`` with the reason.

Nothing is billed after ``ERROR``: CCB is called only under a lease, a lease is taken only while the
request is ``SENT``, and the schedule sets ``ERROR`` only when no lease is held; a lease outlives the
invocation that took it (Lambda ends it at its timeout), so no attempt can still reach CCB then.

Index ``ByStatus`` (sparse): ``gsi1pk = <status>#<shard>`` for AWAITING_DATA_SYNC, PENDING and SENT,
``gsi1sk = <time of the transition>#<id>``; the shard spreads a bill run over several partitions.

Modules: :mod:`.model` (statuses, messages, validation), :mod:`.store` (the table), :mod:`.data_sync` (the SA's
master data at MDM), :mod:`.service` (intake, release, resubmission, the worker), :mod:`.api` (the routes).
"""

from utilhub.packs.meter_data.billing.usage_requests import data_sync, model, service, store
from utilhub.packs.meter_data.billing.usage_requests.data_sync import DataSyncCheck
from utilhub.packs.meter_data.billing.usage_requests.model import (
    INDEX,
    INDEXED,
    LEASE_MARGIN,
    LEASE_WITHOUT_CONTEXT,
    MAX_BATCH,
    REQUEUE_AFTER,
    RESUBMITTED,
    RETENTION,
    SHARDS,
    AttemptInProgress,
    ConflictingUsageRequest,
    NotResubmittable,
    UsageQueued,
    UsageRequestBatchIn,
    UsageRequestIn,
    UsageStatus,
    parse_request,
    parse_requests,
)
from utilhub.packs.meter_data.billing.usage_requests.service import UsageRequests, deliver_batch
from utilhub.packs.meter_data.billing.usage_requests.store import UsageRequestStore, view

__all__ = [
    "INDEX",
    "INDEXED",
    "LEASE_MARGIN",
    "LEASE_WITHOUT_CONTEXT",
    "MAX_BATCH",
    "REQUEUE_AFTER",
    "RESUBMITTED",
    "RETENTION",
    "SHARDS",
    "AttemptInProgress",
    "ConflictingUsageRequest",
    "DataSyncCheck",
    "NotResubmittable",
    "UsageQueued",
    "UsageRequestBatchIn",
    "UsageRequestIn",
    "UsageRequestStore",
    "UsageRequests",
    "UsageStatus",
    "data_sync",
    "deliver_batch",
    "model",
    "parse_request",
    "parse_requests",
    "service",
    "store",
    "view",
]
