"""``make chaos``: one fault run over the hub's asynchronous integration points at once, on the local
runtime, over HTTP, as an operator would live it; then an account of every message.

The run sends N uniquely keyed business messages spread over the points below, some twice (a source's
retry), while the targets go down for longer than every retry window, answer slowly or refuse, the
functions' AWS calls are throttled and execution environments are killed in the middle of a batch.
Then the targets come back, and the run does what an operator does: it resubmits what ended failed
and redrives the dead-letter queues, through the hub's own routes. At the end every message is
accounted for from the simulators' own records (what the target applied, and how often) and the hub's
answer for it:

- ``applied``: the target holds it, once;
- ``duplicated``: the target applied it more than once;
- ``refused``: the hub ended it in a failed state with its reason (and resubmitting did not help);
- ``stuck``: the hub still has it in flight at the end;
- ``lost``: accepted by the hub (2xx), yet neither applied nor refused nor in flight.

It prints a line per integration point and a total, and exits non-zero when anything is lost,
duplicated or stuck. ``python -m localhub.chaos -n 5000`` (``make chaos N=5000``);
``tests/e2e/test_chaos.py`` runs a small one as part of ``make test``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import random
import sys
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from localhub.callers import ApplicationAuth

VERDICTS = ("applied", "duplicated", "refused", "stuck", "lost")
MONITORS = (
    "MeterDataSyncMonitorFunction",
    "FieldWorkSpSyncMonitorFunction",
    "MeterDataUsageReleaseFunction",
    "DacsIncrementalExtractFunction",
)
# The deployment the run proves: DACS sends its acknowledgements (DA-04), passed on to CCB.
PARAMETERS = {"DacsAcknowledgementsToCcb": "true"}


class Hub:
    """The hub's HTTP API and control API, as a source application and an operator use them: a token,
    and a retry of what the hub asks to be retried (503 with Retry-After, 429) or failed in (5xx: the business ids make
    a retry safe; the last answer is the call's, and what ended failed the run's operator resubmits), or that got no
    answer in time (after a pause doubling from 1 s to 30 s: a hub busy for minutes under load is waited for)."""

    def __init__(self, url: str, timeout: float = 35.0) -> None:  # above the API's 30 s: its 503 comes first
        self.url = url
        # each call as the application that sends it, with its own client (localhub.callers)
        self._client = httpx.Client(base_url=url, timeout=timeout, auth=ApplicationAuth(url))
        self._simulator_urls: dict[str, str] = {}
        self.retried = 0
        self.rounds = 0  # rounds of the run's clock so far (tick)

    def call(self, method: str, path: str, body: Any = None, *, tries: int = 8) -> httpx.Response:
        for attempt in range(tries):
            try:
                answer = self._client.request(method, path, json=body) if body is not None else self._client.request(method, path)
            except httpx.TransportError:  # no answer in time: the outcome is unknown, and the business id makes a retry safe
                if attempt == tries - 1:
                    raise
                self.retried += 1
                time.sleep(min(30.0, 2.0**attempt))  # a hub busy under load is given time, as a source application's client gives it
                continue
            # 409 "in progress": the same request (a retry of one that got no answer) is still being worked; ask again shortly
            in_progress = answer.status_code == 409 and "in-progress" in answer.headers.get("content-type", "") + answer.text[:200]
            if (answer.status_code != 429 and answer.status_code < 500 and not in_progress) or attempt == tries - 1:
                return answer
            self.retried += 1
            time.sleep(min(2.0, float(answer.headers.get("retry-after", "0.2") or 0.2)))
        raise AssertionError("unreachable: the last try returns or raises")

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.call("POST", path, body if body is not None else {})

    def get(self, path: str) -> httpx.Response:
        return self.call("GET", path)

    def control(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        answer = self._client.request(method, f"/_local{path}", json=body, timeout=timeout or self._client.timeout)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def simulator_url(self, system: str) -> str:
        if system not in self._simulator_urls:
            self._simulator_urls.update(self.control("GET", "/health")["simulators"])
        return self._simulator_urls[system]

    def simulator(self, system: str) -> dict[str, Any]:
        state: dict[str, Any] = self.control("GET", f"/sim/{system.lower()}/state")
        return state

    def close(self) -> None:
        self._client.close()


@dataclass
class Tally:
    point: str
    sent: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    resubmitted: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def row(self) -> str:
        counts = "  ".join(f"{v} {self.verdicts[v]:>5}" for v in VERDICTS)
        return f"{self.point:<8} sent {self.sent:>5}  {counts}  resubmitted {self.resubmitted:>5}"


class Point(ABC):
    """One integration point of the run: what it sends, how an operator recovers it, how it is accounted for."""

    name: str

    def __init__(self, run: str) -> None:
        self.run = run
        self.accepted: list[str] = []  # the business keys the hub accepted (2xx)
        self.refused_at_intake: dict[str, str] = {}
        self.resubmitted = 0

    @abstractmethod
    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        """The n-th message: its business key, the path to post it to, its body."""

    def send(self, hub: Hub, n: int) -> None:
        key, path, body = self.message(n)
        answer = hub.post(path, body)
        if answer.status_code < 300:
            if key not in self.accepted:
                self.accepted.append(key)
            self.refused_at_intake.pop(key, None)
        elif key not in self.accepted:  # a retry refused after the first was taken changes nothing
            self.refused_at_intake[key] = f"{answer.status_code} {answer.text[:200]}"

    # service points FW-06 must have synchronized to the asset system before the run's faults start (FW-01 waits for them)
    field_service_points: ClassVar[tuple[str, ...]] = ()

    failed = "ERROR"  # the hub's failed state of this point's transactions
    # the states in flight the hub also resubmits once the work behind them ended without recording its outcome (a
    # workflow that failed: its alarm tells the operator); the hub answers 409 for one whose work still runs
    unfinished: ClassVar[tuple[str, ...]] = ()

    def path(self, key: str) -> str | None:
        """Where the hub answers for one transaction (its ``/resubmission`` beside it); None: no such route."""
        return None

    def recover(self, hub: Hub) -> None:
        """What an operator does for this point's failed transactions: resubmit each (the run redrives the DLQs)."""
        for key in self.accepted:
            if (path := self.path(key)) is not None:
                self.resubmitted += _resubmitted(hub, path, (self.failed, *self.unfinished))

    def follow_up(self, hub: Hub, duplicate_every: int) -> int:
        """What the source sends only once the first messages are through (FW-10), at each operator pass: how many
        it sent; nothing for most points."""
        return 0

    @abstractmethod
    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        """key -> (verdict, reason) for every accepted key (or those of ``keys``, the ones still in flight)."""


def _resubmitted(hub: Hub, path: str, states: tuple[str, ...]) -> bool:
    """Resubmit the transaction at ``path`` if it is in one of ``states``; True when the hub took it (202)."""
    return hub.get(path).json().get("status") in states and hub.post(f"{path}/resubmission").status_code == 202


def _final(hub: Hub, path: str, done: set[str], failed: set[str]) -> tuple[str, str]:
    answer = hub.get(path)
    if answer.status_code == 404:
        return "lost", "the hub does not know it"
    state = answer.json()
    status = str(state.get("status"))
    if status in done:
        return "applied", status
    if status in failed:
        history = state.get("history") or []
        reason = next((str(h.get("reason")) for h in reversed(history) if h.get("reason")), "") or json.dumps(state.get("error"))
        return "refused", reason[:120]
    return "stuck", status


class SyncRequests(Point):
    """MD-01: persons synchronized to MDM, two changes of each (the second waits for the first)."""

    name = "MD-01"
    target, tally = "MDM", "acceptedPerSyncRequest"  # the target, and its count of what it took per sync request
    collection = "/meter-data/sync-requests"

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        key = f"{self.run}-SR-{n}"
        person, change = divmod(n, 2)
        body = {
            "syncRequestId": key,
            "entityType": "PERSON",
            "entityId": f"{self.run}-P-{person}",
            "changedAt": f"2026-11-20T09:{change:02d}:00Z",
            "data": {"name": f"Chaos Person {person} v{change}"},
        }
        return key, self.collection, body

    def path(self, key: str) -> str:
        return f"{self.collection}/{key}"

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        target = hub.simulator(self.target)
        taken = target.get(self.tally, {})
        found = {}
        for key in self.accepted if keys is None else keys:
            verdict = _final(hub, self.path(key), {"SYNCHRONIZED", "DISCARDED"}, {"ERROR"})
            times = int(taken.get(key, 0))
            if verdict[0] == "refused" and times:
                verdict = ("lost", f"ERROR, yet {self.target} took it {times} times: the hub lost its outcome")
            elif verdict == ("applied", "DISCARDED"):  # superseded: the target must hold a newer image of the entity, never this one
                _, _, body = self.message(int(key.rsplit("-", 1)[1]))
                held = target["records"].get(f"{body['entityType']}#{body['entityId']}", {})
                if times or str(held.get("changedAt", "")) <= body["changedAt"]:
                    verdict = ("lost", f"DISCARDED, yet {self.target} holds {held.get('changedAt')} and took it {times} times")
            elif verdict[0] == "applied" and times != 1:
                verdict = (
                    ("duplicated", f"{self.target} took it {times} times")
                    if times > 1
                    else ("lost", f"SYNCHRONIZED, yet {self.target} never took it")
                )
            found[key] = verdict
        return found


def _md(run: str, kind: str, n: int) -> str:
    """The id of the n-th entity of a kind in this run (MD-02..10/18 refer to each other's)."""
    return f"{run}-{kind}-{n}"


# MD-02..10 and MD-18: (point, entity type, id kind, the n-th entity's data). A request refers only to entities of the
# same n sent by the points listed before it, which are never given fewer messages (the plan deals in list order).
MASTER_DATA: tuple[tuple[str, str, str, Callable[[str, int], dict[str, Any]]], ...] = (
    ("MD-02", "SERVICE_POINT", "MSP", lambda run, n: {"premiseId": _md(run, "PR", n), "spType": "E-RES", "timeZone": "America/Chicago"}),
    (
        "MD-03",
        "SERVICE_AGREEMENT",
        "MSA",
        lambda run, n: {
            "accountId": _md(run, "AC", n),
            "servicePointIds": [_md(run, "MSP", n)],
            "saType": "E-RES",
            "status": "ACTIVE",
            "startDate": "2026-01-01",
        },
    ),
    (
        "MD-04",
        "SA_RELATIONSHIP",
        "MSR",
        lambda run, n: {
            "serviceAgreementId": _md(run, "MSA", n),
            "relatedServiceAgreementId": _md(run, "MSA", n - 1 if n else 1),
            "relationshipType": "BUDGET",
            "startDate": "2026-01-01",
        },
    ),
    (
        "MD-05",
        "DYNAMIC_OPTION",
        "MDO",
        lambda run, n: {"serviceAgreementId": _md(run, "MSA", n), "optionType": "GREEN", "startDate": "2026-01-01", "value": "Y"},
    ),
    (
        "MD-06",
        "DYNAMIC_OPTION_EVENT",
        "MDE",
        lambda run, n: {
            "optionId": _md(run, "MDO", n),
            "eventType": "PEAK",
            "startAt": "2026-12-01T17:00:00Z",
            "endAt": "2026-12-01T19:00:00Z",
        },
    ),
    ("MD-07", "METER", "MM", lambda run, n: {"badgeNumber": _md(run, "B", n), "meterType": "E-SMART", "status": "ACTIVE"}),
    (
        "MD-08",
        "METER_CONFIGURATION",
        "MMC",
        lambda run, n: {
            "meterId": _md(run, "MM", n),
            "configurationType": "STD",
            "effectiveAt": "2026-01-01T00:00:00Z",
            "registers": [{"registerId": _md(run, "REG", n), "sequence": 1, "uom": "KWH", "digitsLeft": 6}],
        },
    ),
    (
        "MD-09",
        "SP_METER_HISTORY",
        "MSM",
        lambda run, n: {"servicePointId": _md(run, "MSP", n), "meterId": _md(run, "MM", n), "installedAt": "2026-01-02T00:00:00Z"},
    ),
    (
        "MD-10",
        "SCALAR_METER_READ",
        "MRD",
        lambda run, n: {
            "meterId": _md(run, "MM", n),
            "spMeterHistoryId": _md(run, "MSM", n),
            "readAt": "2026-02-01T00:00:00Z",
            "reads": [{"registerId": _md(run, "REG", n), "uom": "KWH", "reading": 1234.5}],
        },
    ),
    (
        "MD-18",
        "BILL_CYCLE",
        "MBC",
        lambda run, n: {
            "billCycleCode": f"C{n % 10_000:04d}",
            "description": "chaos",
            "schedule": [{"windowStart": "2026-12-01", "windowEnd": "2026-12-05"}],
        },
    ),
)


class MasterData(SyncRequests):
    """MD-02..10 and MD-18: the other master data CCB synchronizes to MDM, through MD-01's sync engine."""

    def __init__(self, run: str, name: str, entity_type: str, kind: str, data: Callable[[str, int], dict[str, Any]]) -> None:
        super().__init__(run)
        self.name, self._entity_type, self._kind, self._data = name, entity_type, kind, data

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        key = f"{self.run}-SR{self.name[3:]}-{n}"
        body = {
            "syncRequestId": key,
            "entityType": self._entity_type,
            "entityId": _md(self.run, self._kind, n),
            "changedAt": "2026-11-20T09:00:00Z",
            "data": self._data(self.run, n),
        }
        return key, self.collection, body


class Relayed(Point):
    """A notification relayed once to its target (MD-13, MD-16, MD-20, FW-05, FW-11): applied when the target holds it."""

    def __init__(
        self,
        run: str,
        name: str,
        make: Callable[[str, int], tuple[str, str, dict[str, Any]]],
        system: str,
        holds: Callable[[dict[str, Any], str], bool],
    ) -> None:
        super().__init__(run)
        self.name = name
        self._make = make
        self._system = system
        self._holds = holds

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        return self._make(self.run, n)

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        state = hub.simulator(self._system)
        # an event the target does not hold is lost only when no dead-letter queue holds anything it could be
        waiting = sum(q["messages"] + q["inFlight"] for q in hub.get("/ops/dead-letters").json()["items"])
        missing = ("stuck", f"{waiting} dead letters wait") if waiting else ("lost", f"{self._system} does not hold it")
        return {key: ("applied", "") if self._holds(state, key) else missing for key in (self.accepted if keys is None else keys)}


def replacement_reads(run: str, n: int) -> tuple[str, str, dict[str, Any]]:
    key = f"{run}-RR-{n}"
    body = {
        "notificationId": key,
        "saId": "SA-0001",
        "usageTransactionId": f"{run}-UT-{n}",
        "periodStart": "2026-10-01",
        "periodEnd": "2026-10-31",
    }
    return key, "/meter-data/replacement-reads", body


def bill_status(run: str, n: int) -> tuple[str, str, dict[str, Any]]:
    key = f"{run}-BS-{n}"
    body = {"eventId": key, "event": "BILL_COMPLETED", "at": "2026-11-02T07:30:00Z"}
    return key, f"/meter-data/usage-transactions/{run}-UT-{n}/bill-status", body


def bill_cycle_change(run: str, n: int) -> tuple[str, str, dict[str, Any]]:
    key = f"{run}-BCC-{n}"
    body = {"changeId": key, "servicePointId": f"{run}-SP-{n}", "billCycle": "BC07", "effectiveDate": "2026-12-01"}
    return key, "/meter-data/bill-cycle-changes", body


def billing_charges(run: str, n: int) -> tuple[str, str, dict[str, Any]]:
    key = f"{run}-COMP-{n}"
    body = {
        "completionId": key,
        "sourceSystem": "ODM",
        "workOrderId": f"{run}-WO-{n}",
        "servicePointId": "SP-0007",
        "completedAt": "2026-12-02T16:00:00Z",
        "charges": [{"chargeType": "METER-TEST", "amount": 45.0, "currency": "USD"}],
    }
    return key, "/field-work/billing-charges", body


def unbadged_asset(run: str, n: int) -> tuple[str, str, dict[str, Any]]:
    key = f"{run}-UB-{n}"
    body = {"notificationId": key, "assetId": f"{run}-DV-{n}", "assetType": "CT-ENCLOSURE", "servicePointId": "SP-0007", "quantity": 1}
    return key, "/field-work/unbadged-assets", body


def _ccb_holds(prefix: str) -> Callable[[dict[str, Any], str], bool]:
    return lambda state, key: f"{prefix}#{key}" in state["records"]


def _mdm_bill_usage(state: dict[str, Any], key: str) -> bool:
    return any(key in held.get("events", []) for held in state["billing"]["usedOnBill"].values())


class FulfillmentOrders(Point):
    """OC-01: an order revision creating a billing account, its bill info and pay info in BRM."""

    name = "OC-01"

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        order = f"{self.run}-ORD-{n}"
        account = f"{self.run}-BA-{n}"
        line = {
            "lineId": "L1",
            "action": "ADD",
            "billingType": "Service Bundle",
            "productType": "Broadband",
            "billingSystemId": "BRM1",
            "serviceAccount": {"id": account, "name": f"Chaos account {n}"},
            "billingAccount": {"id": account, "name": f"Chaos account {n}"},
            "billingProfile": {
                "id": f"{self.run}-BP-{n}",
                "paymentMethod": "DIRECT_DEBIT",
                "billCycleDay": 1,
                "currency": "GBP",
                "bankAccount": {"accountNumber": f"{10000000 + n}", "bankCode": "601613", "holderName": f"Chaos account {n}"},
            },
        }
        return order, "/order-to-cash/fulfillment-orders", {"orderId": order, "revision": 1, "lines": [line]}

    failed = "FAILED"

    def path(self, key: str) -> str:
        return f"/order-to-cash/fulfillment-orders/{key}/revisions/1"

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        brm = hub.simulator("BRM")["records"]
        accounts = Counter(a["accountNo"] for system in brm.values() for a in system.get("accounts", {}).values())
        found = {}
        for key in self.accepted if keys is None else keys:
            verdict = _final(hub, self.path(key), {"SUCCEEDED"}, {"FAILED"})
            times = accounts[key.replace("-ORD-", "-BA-")]
            if times > 1:
                verdict = ("duplicated", f"BRM holds {times} accounts")
            elif verdict[0] == "applied" and times != 1:
                verdict = ("duplicated", f"BRM holds {times} accounts") if times > 1 else ("lost", "SUCCEEDED, yet BRM has no account")
            found[key] = verdict
        return found


FIELD_SERVICE_POINT = "SP-2001"  # where the field activities of a run are


def synchronize_field_service_point(hub: Hub, service_point: str) -> None:
    """FW-06 before FW-01: an activity reaches ODM at ODM's own id of its service point, which FW-06 gives it (an
    activity at a service point ODM does not have waits, then ends in ERROR). Once per hub: the same request again
    changes nothing."""
    body = {
        "syncRequestId": f"CHAOS-{service_point}",
        "entityType": "SERVICE_POINT",
        "entityId": service_point,
        "changedAt": "2026-11-01T09:00:00Z",
        "data": {"premiseId": f"PR-{service_point}", "spType": "E-RES"},
    }
    hub.post("/field-work/sync-requests", body).raise_for_status()
    path = f"/field-work/sync-requests/{body['syncRequestId']}"
    for _ in range(100):
        if hub.get(path).json().get("status") == "SYNCHRONIZED":
            return
        hub.control("POST", "/schedules/FieldWorkSpSyncMonitorFunction/run")
        time.sleep(0.2)
    raise RuntimeError(f"{service_point} was not synchronized to the asset system: {hub.get(path).text[:300]}")


class FieldActivities(Point):
    """FW-01: CCB's activities, a meter exchange (MWM and WAM/ODM) or a reconnection (MWM alone)."""

    name = "FW-01"
    field_service_points = (FIELD_SERVICE_POINT,)
    # an activity whose creation's execution failed before recording its outcome stays CREATING (the workflow's
    # alarm) until the creation sweep puts it in ERROR past its bound; the hub resubmits it either way, and answers
    # 409 while its creation runs
    unfinished = ("CREATING",)

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        key = f"{self.run}-FA-{n}"
        body = {
            "sourceSystem": "CCB",
            "activityId": key,
            "activityType": "METER-EXCHANGE" if n % 2 else "RECONNECT",
            "servicePointId": FIELD_SERVICE_POINT,
            "scheduledDate": "2026-12-01",
            "priority": "HIGH",
        }
        return key, "/field-work/activities", body

    def path(self, key: str) -> str:
        return f"/field-work/activities/CCB/{key}"

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        held: Counter[tuple[str, str]] = Counter()
        open_: set[tuple[str, str]] = set()
        for system in ("MWM", "WAM", "ODM"):
            for record in hub.simulator(system)["records"].values():
                if str(record.get("externalId", "")).startswith(f"CCB:{self.run}-FA-") and record.get("status") == "OPEN":
                    # one canceled by a compensation and one made by the resubmission is right; two open is not
                    activity = record["externalId"].split(":", 1)[1]
                    held[(activity, system)] += 1
                    open_.add((activity, system))
        found = {}
        for key in self.accepted if keys is None else keys:
            state = hub.get(self.path(key)).json()
            status, links = str(state.get("status")), sorted(system for system in state.get("links", {}) if system != "CCB")
            if status in ("LINKED", "OPEN"):
                twice = [s for s in links if held[(key, s)] > 1]
                missing = [s for s in links if (key, s) not in open_]
                found[key] = (
                    ("duplicated", f"twice in {twice}") if twice else ("lost", f"not open in {missing}") if missing else ("applied", "")
                )
            elif status == "ERROR":
                left = [s for s in ("MWM", "WAM", "ODM") if (key, s) in open_]
                reason = next((str(h.get("reason")) for h in reversed(state.get("history", [])) if h.get("reason")), "")
                found[key] = ("stuck", f"ERROR, yet still open in {left}") if left else ("refused", reason[:120])
            else:
                found[key] = ("stuck", status)
        return found


def _field_records(hub: Hub, prefix: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each field system's records of the activities whose external id starts with ``prefix``, canceled ones too:
    external id -> system -> records."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for system in ("MWM", "WAM", "ODM"):
        for record in hub.simulator(system)["records"].values():
            if str(record.get("externalId", "")).startswith(prefix):
                found.setdefault(record["externalId"], {}).setdefault(system, []).append(record)
    return found


def _waiting_dead_letters(hub: Hub) -> int:
    return sum(q["messages"] + q["inFlight"] for q in hub.get("/ops/dead-letters").json()["items"])


class ActivityEvents(Point):
    """FW-02: an activity's closing event (COMPLETE or CANCEL) posted right after its creation, often crossing it:
    applied once in every system the activity was created in, from each field system's own records."""

    name = "FW-02"
    closes: ClassVar[dict[str, str]] = {"COMPLETE": "COMPLETED", "CANCEL": "CANCELED"}
    field_service_points = (FIELD_SERVICE_POINT,)
    unfinished = ("CREATING",)  # as FW-01's

    def activity(self, n: int) -> dict[str, Any]:
        return {
            "sourceSystem": "CCB",
            "activityId": f"{self.run}-FE-{n}",
            "activityType": "METER-EXCHANGE" if n % 2 else "RECONNECT",
            "servicePointId": FIELD_SERVICE_POINT,
            "scheduledDate": "2026-12-01",
            "priority": "HIGH",
        }

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        key = f"{self.run}-EV-{n}"
        event = "COMPLETE" if n % 3 else "CANCEL"
        body: dict[str, Any] = {"eventId": key, "event": event, "at": "2026-12-01T15:00:00Z"}
        if event == "CANCEL":
            body["reason"] = "customer canceled"
        else:
            body["remarks"] = "meter work done"
        return key, f"{self.path(key)}/events", body

    def send(self, hub: Hub, n: int) -> None:
        key = self.message(n)[0]
        created = hub.post("/field-work/activities", self.activity(n))
        if created.status_code >= 300 and key not in self.accepted:
            self.refused_at_intake[key] = f"the activity: {created.status_code} {created.text[:200]}"
            return
        super().send(hub, n)

    def path(self, key: str) -> str:
        return f"/field-work/activities/CCB/{key.replace('-EV-', '-FE-')}"

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        waiting = _waiting_dead_letters(hub)
        held = _field_records(hub, f"CCB:{self.run}-FE-")
        found = {}
        for key in self.accepted if keys is None else keys:
            event = self.message(int(key.rsplit("-", 1)[1]))[2]["event"]
            state = hub.get(self.path(key)).json()
            status = str(state.get("status"))
            records = {system: held.get(f"CCB:{key.replace('-EV-', '-FE-')}", {}).get(system, []) for system in ("MWM", "WAM", "ODM")}
            linked = sorted(s for s in state.get("links", {}) if s != "CCB")
            times = {s: sum(1 for r in records[s] for e in r.get("events", []) if e["eventId"] == key) for s in records}
            closed = {
                s: any(r["status"] == self.closes[event] and any(e["eventId"] == key for e in r.get("events", [])) for r in records[s])
                for s in records
            }
            if twice := [s for s, t in times.items() if t > 1]:
                found[key] = ("duplicated", f"applied more than once in {twice}")
            elif status == "ERROR":
                reason = next((str(h.get("reason")) for h in reversed(state.get("history", [])) if h.get("reason")), "")
                left = [s for s in records if any(r["status"] == "OPEN" for r in records[s])]
                found[key] = ("stuck", f"ERROR, yet still open in {left}") if left else ("refused", reason[:120])
            elif linked and all(closed[s] for s in linked) and not [s for s in records if s not in linked and times[s]]:
                found[key] = ("applied", "")
            elif status in ("CREATING", "LINKED") or waiting:
                found[key] = ("stuck", f"{status}; not yet {self.closes[event]} in {[s for s in linked if not closed[s]]}")
            else:
                found[key] = ("lost", f"{status}; not {self.closes[event]} in {[s for s in linked if not closed[s]] or 'any system'}")
        return found


class CustomerInformation(Point):
    """FW-10: CCB's change of a customer's details, for the open MWM activity at its service point. MWM takes it
    only for an activity it holds open, so each update is sent once its activity (made at the start of the run)
    is linked (:meth:`follow_up`), through a short MWM outage; applied when MWM's record of the activity has it, once."""

    name = "FW-10"

    def activity(self, n: int) -> dict[str, Any]:
        return {
            "sourceSystem": "CCB",
            "activityId": f"{self.run}-FC-{n}",
            "activityType": "RECONNECT",
            "servicePointId": f"{self.run}-FSP-{n}",
            "scheduledDate": "2026-12-01",
            "priority": "HIGH",
        }

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        key = f"{self.run}-CI-{n}"
        body = {
            "updateId": key,
            "servicePointId": f"{self.run}-FSP-{n}",
            "changedAt": "2026-12-01T10:00:00Z",
            "customer": {"name": f"Chaos Customer {n}", "phone": "+1 217 555 0199"},
        }
        return key, "/field-work/customer-updates", body

    def __init__(self, run: str) -> None:
        super().__init__(run)
        self.activities: list[int] = []

    def send(self, hub: Hub, n: int) -> None:
        key = self.message(n)[0]
        created = hub.post("/field-work/activities", self.activity(n))
        if created.status_code < 300:
            if n not in self.activities:
                self.activities.append(n)
        elif n not in self.activities:
            self.refused_at_intake[key] = f"the activity: {created.status_code} {created.text[:200]}"

    def path(self, key: str) -> str:
        return f"/field-work/activities/CCB/{key.replace('-CI-', '-FC-')}"

    def recover(self, hub: Hub) -> None:
        for n in self.activities:  # the activities in ERROR, or CREATING with nothing running, are resubmitted, as FW-01's
            self.resubmitted += _resubmitted(hub, self.path(self.message(n)[0]), ("ERROR", "CREATING"))

    def follow_up(self, hub: Hub, duplicate_every: int) -> int:
        """CCB sends each customer's change once its activity is linked (an activity resubmitted by the operator
        counts at the next pass); one whose activity is not linked by the last pass has nothing open at MWM to
        update: refused with that reason."""
        sent = 0
        for n in self.activities:
            key = self.message(n)[0]
            if key in self.accepted:
                continue
            status = hub.get(self.path(key)).json().get("status")
            if status != "LINKED":
                self.refused_at_intake[key] = f"its activity is {status}: MWM holds nothing open to update"
                continue
            Point.send(self, hub, n)
            if n % duplicate_every == 0:
                Point.send(self, hub, n)
            sent += 1
        return sent

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        waiting = _waiting_dead_letters(hub)
        mwm = hub.simulator("MWM")["records"].values()
        found = {}
        for key in self.accepted if keys is None else keys:
            n = int(key.rsplit("-", 1)[1])
            held = [r for r in mwm if r.get("externalId") == f"CCB:{self.run}-FC-{n}" and r.get("status") == "OPEN"]
            times = sum(1 for r in held for e in r.get("events", []) if e["eventId"] == f"FW-10-{key}")
            if times > 1:
                found[key] = ("duplicated", f"MWM applied it {times} times")
            elif times == 1 and all(r.get("customer", {}).get("name") == f"Chaos Customer {n}" for r in held):
                found[key] = ("applied", "")
            else:  # accepted after its activity was linked: in the relay queue, or a dead letter, until MWM has it
                found[key] = (
                    "stuck",
                    f"not at MWM yet: {len(held)} open MWM activities, the update on {times} ({waiting} dead letters wait)",
                )
        return found


class DacsSync(SyncRequests):
    """DA-02/03/04, one DACS sync request each (a person, a DACS contact): DA-02's extract writes it in a file, DA-03
    moves the file to upload/ (DACS imports it, loading the record), DACS acknowledges it and DA-04 completes the
    request and passes the acknowledgement on to CCB. Applied: DACS loaded the record once, with this image, and CCB
    holds DACS's positive acknowledgement. The run deploys with ``DacsAcknowledgementsToCcb=true`` (:data:`PARAMETERS`)."""

    name = "DA-02/03/04"
    target = "DACS"
    collection = "/dacs/sync-requests"

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        key = f"{self.run}-DSR-{n}"
        body = {
            "syncRequestId": key,
            "entityType": "PERSON",
            "entityId": f"{self.run}-DP-{n}",
            "changedAt": "2026-11-20T09:00:00Z",
            "data": {"name": f"Chaos Contact {n}"},
        }
        return key, self.collection, body

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        dacs = hub.simulator("DACS")["records"]
        ccb = hub.simulator("CCB")["records"]
        waiting = _waiting_dead_letters(hub)
        found = {}
        for key in self.accepted if keys is None else keys:
            person = f"{self.run}-DP-{key.rsplit('-', 1)[1]}"
            loaded = dacs.get(f"CONTACT#{person}")
            acks = [a["result"] for a in ccb.get(f"SYNC-ACK#{key}", {}).get("acknowledgements", [])]
            verdict = _final(hub, self.path(key), {"SYNCHRONIZED"}, {"ERROR"})
            if loaded is not None and int(loaded.get("version", 0)) > 1:
                verdict = ("duplicated", f"DACS loaded it {loaded['version']} times")
            elif verdict[0] == "refused" and loaded is not None:
                verdict = ("lost", "ERROR, yet DACS loaded it: the hub lost its outcome")
            elif verdict[0] == "applied" and loaded is None:
                verdict = ("lost", "SYNCHRONIZED, yet DACS has no such contact")
            elif verdict[0] == "applied" and (not acks or acks[-1] != "POSITIVE"):
                verdict = (
                    ("stuck", f"CCB has acknowledgements {acks}; {waiting} dead letters wait")
                    if waiting
                    else (
                        "lost",
                        f"CCB has acknowledgements {acks}, not DACS's positive one",
                    )
                )
            found[key] = verdict
        return found


class ServicePointSync(SyncRequests):
    """FW-06: service points synchronized to the asset system (ODM under v2.1), one change of each."""

    name = "FW-06"
    target, tally = "ODM", "appliedPerServicePointSync"
    collection = "/field-work/sync-requests"

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        key = f"{self.run}-SPS-{n}"
        body = {
            "syncRequestId": key,
            "entityType": "SERVICE_POINT",
            "entityId": f"{self.run}-SP-{n}",
            "changedAt": "2026-11-20T10:00:00Z",
            "data": {"premiseId": f"{self.run}-PR-{n}", "spType": "E-RES"},
        }
        return key, self.collection, body


class UsageRequests(Point):
    """MD-11: a bill run's usage requests, their determinants delivered to CCB once."""

    name = "MD-11"

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        key = f"{self.run}-UR-{n}"
        body = {"usageRequestId": key, "saId": f"SA-{n % 20_000 + 1:05d}", "periodStart": "2026-10-01", "periodEnd": "2026-10-31"}
        return key, "/meter-data/usage-requests", body

    def path(self, key: str) -> str:
        return f"/meter-data/usage-requests/{key}"

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        records = hub.simulator("CCB")["records"]
        found = {}
        for key in self.accepted if keys is None else keys:
            verdict = _final(hub, self.path(key), {"COMPLETED"}, {"ERROR"})
            if verdict[0] == "applied" and f"BILL_DETERMINANTS#{key}" not in records:
                verdict = ("lost", "COMPLETED, yet CCB holds no determinants")
            found[key] = verdict
        return found


class Customers(Point):
    """CU-01 and CU-02: a Siebel order makes the customer in CCB (synchronous), then an update of its name follows."""

    name = "CU-01/02"

    def __init__(self, run: str) -> None:
        super().__init__(run)
        self.update_refused: dict[str, str] = {}

    def message(self, n: int) -> tuple[str, str, dict[str, Any]]:
        account = f"{self.run}-SBL-{n}"
        line = {
            "lineId": "1",
            "billingAccount": {
                "id": account,
                "name": f"Chaos Customer {n}",
                "address": {
                    "type": "Billing",
                    "line1": "742 Evergreen Terrace",
                    "city": "Springfield",
                    "state": "IL",
                    "postalCode": "62701",
                    "country": "USA",
                },
                "billingProfile": {
                    "id": f"BP-{account}",
                    "paymentMethod": "Invoice",
                    "billRoute": "Email",
                    "billCycleDay": 12,
                    "currency": "USD",
                },
            },
        }
        return (
            account,
            "/customer/siebel/orders",
            {"orderId": f"{self.run}-SORD-{n}", "submittedAt": "2026-11-27T09:00:00Z", "lines": [line]},
        )

    def send(self, hub: Hub, n: int) -> None:
        super().send(hub, n)
        key = self.message(n)[0]
        if key in self.accepted:  # a customer CCB has: Siebel's later change of its name (CU-02)
            update = {"updateId": f"{key}-U1", "changedAt": "2026-11-28T09:00:00Z", "name": f"Chaos Customer {n} renamed"}
            answer = hub.post(f"/customer/siebel/accounts/{key}/updates", update)
            if answer.status_code != 202:
                self.update_refused[key] = f"update: {answer.status_code} {answer.text[:200]}"

    def recover(self, hub: Hub) -> None:
        """Siebel submits again an order the hub could not complete (CU-01 answers at once: it is the caller's to retry)."""
        for key in list(self.refused_at_intake):
            n = int(key.rsplit("-", 1)[1])
            del self.refused_at_intake[key]
            self.resubmitted += 1
            self.send(hub, n)

    def verdicts(self, hub: Hub, keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        people = [r for k, r in hub.simulator("CCB")["records"].items() if k.startswith("PERSON#") and "siebelAccountId" in r]
        made = Counter(r["siebelAccountId"] for r in people)
        names = {r["siebelAccountId"]: r.get("name") for r in people}
        found = {}
        for key in self.accepted if keys is None else keys:
            n = key.rsplit("-", 1)[1]
            if made[key] > 1:
                found[key] = ("duplicated", f"CCB made {made[key]} customers")
            elif key in self.update_refused:
                found[key] = ("refused", self.update_refused[key])
            elif made[key] == 0:
                found[key] = ("lost", "CCB has no customer")
            elif names[key] != f"Chaos Customer {n} renamed":
                found[key] = self._update_not_applied(hub, key, names[key])
            else:
                found[key] = ("applied", "")
        return found

    @staticmethod
    def _update_not_applied(hub: Hub, key: str, name: str | None) -> tuple[str, str]:
        """An update CCB does not hold: refused when the hub refused it for good (``REFUSED`` in the journal, with its
        reason, kept in the dead-letter queue); else still on its way."""
        head = hub.get(f"/ops/transactions/CU-02/{key}%2F{key}-U1")
        if head.status_code == 200 and head.json().get("detailState") == "REFUSED":
            return "refused", f"update: {head.json().get('reason', '')}"[:120]
        return "stuck", f"the update has not reached CCB (name {name!r})"


def points(run: str) -> list[Point]:
    return [
        SyncRequests(run),
        *(MasterData(run, *spec) for spec in MASTER_DATA),
        Relayed(run, "MD-13", replacement_reads, "CCB", _ccb_holds("OFF_CYCLE_BILL")),
        Relayed(run, "MD-16", bill_status, "MDM", _mdm_bill_usage),
        Relayed(run, "MD-20", bill_cycle_change, "CCB", _ccb_holds("BILL_CYCLE_CHANGE")),
        FulfillmentOrders(run),
        FieldActivities(run),
        Relayed(run, "FW-05", billing_charges, "CCB", _ccb_holds("CHARGES")),
        Relayed(run, "FW-11", unbadged_asset, "CCB", _ccb_holds("ITEM")),
        ServicePointSync(run),
        UsageRequests(run),
        Customers(run),
        ActivityEvents(run),
        CustomerInformation(run),
        DacsSync(run),
    ]


# ------------------------------------------------------------------------------------------- the run


@dataclass
class Faults:
    """What goes wrong during the run."""

    outage_rounds: int = 8  # rounds of time (each one the queues' redelivery) the targets stay down: past every queue's 5 tries
    throttle_rate: float = 0.05
    crashes: int = 3
    duplicate_every: int = 7  # every n-th message is sent twice
    rejections: int = 2  # business refusals per target (resubmitted at the end)
    slow_calls: int = 3


def _each(points_: Iterable[Point], work: Callable[[Point], None]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, points_))


VISIBILITY = "UTILHUB_DELIVERY_VISIBILITY_TIMEOUT_SECONDS"


@functools.cache
def round_length() -> int:
    """How far the schedules' clock moves in a round of the run's clock, in seconds: the shortest visibility timeout
    of the queues the scheduled functions deliver through (the template's, as their settings name it). A round lets
    every visibility timeout pass at once, so each of those queues has had at least that long; no schedule is told
    more time passed than that (DACS's transfer queue, 90 minutes, is told 6: its requests' time-out is not reached)."""
    from localhub.template import LocalStack

    stack = LocalStack(parameters=PARAMETERS)
    lengths = []
    for monitor in MONITORS:
        value = stack.template.resources[monitor]["Properties"].get("Environment", {}).get("Variables", {}).get(VISIBILITY)
        if value is not None:
            lengths.append(int(stack.resolve(value)))
    return min(lengths)


def tick(hub: Hub) -> None:
    """Time passes: every schedule runs, DACS imports what is in upload/ and sends its acknowledgements, and every
    message waiting out a visibility timeout comes back.

    A round makes every visibility timeout pass at once, so the schedules fire as of the time that stands for: the
    wall clock plus :func:`round_length` for each round so far. A sync monitor then times out a request whose message
    its queue could no longer deliver ((maxReceiveCount + 1) rounds), and gives back the claims of a run that stopped
    before queueing them (LONGEST_RUN), as it would on AWS after as long."""

    def run_schedule(monitor: str) -> None:
        at = {"time": (datetime.now(UTC) + timedelta(seconds=hub.rounds * round_length())).isoformat()} if hub.rounds else None
        # a monitor run that failed is one of the faults, and one may work its budget out (90 s) under load: the next
        # tick runs it again
        with contextlib.suppress(httpx.HTTPError):
            hub.control("POST", f"/schedules/{monitor}/run", at, timeout=300)

    with ThreadPoolExecutor(max_workers=len(MONITORS)) as pool:  # as on AWS, the schedules fire at the same time
        list(pool.map(run_schedule, MONITORS))
    dacs = hub.simulator_url("DACS")
    for route in ("/imports", "/acknowledgements/send"):  # DACS's own scheduler
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{dacs}{route}", timeout=60)
    # after an outage, hundreds of messages and the idempotency claims of the invocations that ended (a scan of each
    # table); on a loaded machine that can outlast the wait, and the hub goes on with it (the next call waits for it):
    # a round stands for a visibility timeout passed, so one whose redelivery did not answer is not counted
    started = time.monotonic()
    try:
        hub.control("POST", "/queues/redeliver-now", timeout=600)
    except httpx.TimeoutException:
        print(f"  round {hub.rounds}: redelivery not answered in {time.monotonic() - started:.0f} s; not counted, asked again", flush=True)
        return
    hub.rounds += 1


def redrive_dead_letters(hub: Hub) -> int:
    moved = 0
    for queue in hub.get("/ops/dead-letters").json()["items"]:
        if queue["messages"]:
            pack, name = queue["queue"].split("/", 1)
            answer = hub.post(f"/{pack}/dead-letters/{name}/redrive")
            moved += int(answer.json().get("messages", 0)) if answer.status_code == 202 else 0
    return moved


def run(hub: Hub, messages: int, seed: int = 7, faults: Faults | None = None, say: Callable[[str], None] = print) -> list[Tally]:
    faults = faults or Faults()
    rng = random.Random(seed)
    run_id = f"CH{seed}{rng.randrange(10_000):04d}"
    chosen = points(run_id)
    plan = [chosen[i % len(chosen)] for i in range(messages)]
    counts = Counter(p.name for p in plan)
    numbers = {p.name: iter(range(counts[p.name])) for p in chosen}

    say(f"chaos run {run_id}: {messages} messages over {len(chosen)} integration points")
    for service_point in sorted({sp for point in chosen for sp in point.field_service_points}):
        synchronize_field_service_point(hub, service_point)
    for system in ("CCB", "MDM", "BRM", "MWM", "ODM"):
        # down a few calls in: a small run (a few messages a target) too must outlive the queues' tries
        after = rng.randrange(1, max(2, min(30, messages // 10)))
        hub.control("POST", f"/sim/{system.lower()}/faults", {"kind": "down", "count": 1_000_000, "after": after})
        hub.control("POST", f"/sim/{system.lower()}/faults", {"kind": "slow", "count": faults.slow_calls, "seconds": 3})
    hub.control("POST", "/aws/throttling", {"rate": faults.throttle_rate, "seed": seed})
    try:
        hub.control("POST", "/lambda/crashes", {"function": "*", "count": faults.crashes, "afterCalls": 2})
    except httpx.HTTPStatusError:
        say("  (functions run in-process: no environment is killed)")

    def send(point: Point) -> None:
        for n in numbers[point.name]:
            point.send(hub, n)
            if n % faults.duplicate_every == 0:
                point.send(hub, n)  # the source's retry

    started = time.monotonic()
    _each(chosen, send)
    say(f"  sent in {time.monotonic() - started:.0f} s; targets down")
    for _ in range(faults.outage_rounds):
        tick(hub)
        time.sleep(0.5)
    for system in ("CCB", "MDM", "BRM", "MWM", "ODM"):
        hub.control("DELETE", f"/sim/{system.lower()}/faults")
    for system in ("CCB", "MDM", "BRM", "MWM", "ODM", "DACS"):
        hub.control("POST", f"/sim/{system.lower()}/faults", {"kind": "reject", "count": faults.rejections})
    hub.control("DELETE", "/aws/throttling")
    say(f"  targets back (each refusing a few messages) at {time.monotonic() - started:.0f} s")
    for _ in range(3):
        tick(hub)
        time.sleep(0.5)
    tallies: list[Tally] = []
    for attempt in range(1, 6):  # the operator looks again while something is still failed
        redriven = redrive_dead_letters(hub)
        before = sum(p.resubmitted for p in chosen)
        _each(chosen, lambda p: p.recover(hub))
        resubmitted = sum(p.resubmitted for p in chosen) - before
        say(f"  operator, pass {attempt}: {redriven} dead letters redriven, {resubmitted} transactions resubmitted")
        done = not redriven and not resubmitted and attempt > 1
        # while the operator still has work, a settle that stops moving hands over to the next pass; the last one waits
        tallies = settle(hub, chosen, say=say, stall=None if done or attempt == 5 else 5)
        if attempt == 1:  # what the sources send once the first messages are through, MWM down for a few calls meanwhile
            hub.control("POST", "/sim/mwm/faults", {"kind": "down", "count": 3, "after": 1})
        with ThreadPoolExecutor(max_workers=4) as pool:
            late = sum(pool.map(lambda p: p.follow_up(hub, faults.duplicate_every), chosen))
        if late:
            say(f"  {late} follow-ups sent ({time.monotonic() - started:.0f} s)")
            tallies = settle(hub, chosen, say=say, stall=None if attempt == 5 else 5)
        elif done:
            break
    say(f"  settled at {time.monotonic() - started:.0f} s")
    return tallies


def settle(hub: Hub, chosen: list[Point], rounds: int = 30, say: Callable[[str], None] = print, stall: int | None = None) -> list[Tally]:
    """Let the hub finish, then account; stop early once nothing is in flight, or (``stall``) once that many rounds
    in a row ended nothing more: what is left waits for the operator (a dead letter, a failed transaction)."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    started, accounting, done = time.monotonic(), 0.0, 0
    whole = True  # a round accounts for every message, or only for those still in flight the round before
    in_flight: list[int] = []
    for _ in range(rounds):
        if stall and len(in_flight) > stall and in_flight[-1] >= in_flight[-1 - stall]:
            break
        done += 1
        tick(hub)
        time.sleep(1.0)
        counted = time.monotonic()
        for p in chosen:
            again = None if whole else [key for key, (verdict, _) in found[p.name].items() if verdict == "stuck"]
            found[p.name] = {**found.get(p.name, {}), **p.verdicts(hub, again)}
        accounting += time.monotonic() - counted
        in_flight.append(sum(v == "stuck" for verdicts in found.values() for v, _ in verdicts.values()))
        if not in_flight[-1]:
            if whole:
                break
            whole = True  # nothing in flight: one more round over every message decides
        else:
            whole = False
    say(f"  settled in {done} rounds, {time.monotonic() - started:.0f} s ({accounting:.0f} s of it accounting)")
    tallies = []
    for point in chosen:
        tally = Tally(point.name, sent=len(point.accepted) + len(point.refused_at_intake), resubmitted=point.resubmitted)
        for key in point.refused_at_intake:
            tally.verdicts["refused"] += 1
            tally.reasons[f"intake: {point.refused_at_intake[key][:80]}"] += 1
        for verdict, reason in found[point.name].values():
            tally.verdicts[verdict] += 1
            if verdict != "applied":
                tally.reasons[f"{verdict}: {reason}"] += 1
        tallies.append(tally)
    return tallies


def report(tallies: list[Tally], say: Callable[[str], None] = print) -> bool:
    """Print the account; True when nothing was lost, duplicated or stuck."""
    total = Tally("total")
    for tally in tallies:
        say(tally.row())
        for reason, count in tally.reasons.most_common(3):
            say(f"{'':8}   {count} x {reason}")
        total.sent += tally.sent
        total.verdicts.update(tally.verdicts)
        total.resubmitted += tally.resubmitted
    say(total.row())
    bad = {v: total.verdicts[v] for v in ("lost", "duplicated", "stuck")}
    say("  ".join(f"{v} {n}" for v, n in bad.items()))
    return not any(bad.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localhub.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=5000, help="business messages to send (default 5000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--environments",
        type=int,
        default=24,
        help="execution environments live at once (default 24, about 2 GB): the run keeps some forty functions busy, and "
        "fewer environments than that means one stopped for another's cold start over and over",
    )
    args = parser.parse_args(argv)

    import logging
    import warnings

    from localhub.hub import LocalHub
    from localhub.lambda_.workers import WorkerPool
    from localhub.server import LocalRuntime

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # the ASL interpreter logs every failed state it retries
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # the workflows' Retry waits run at 1/100 of their length, so an outage of minutes passes in seconds
    hub_ = LocalHub(workers=WorkerPool(max_processes=args.environments), parameters=dict(PARAMETERS), sfn_retry_scale=0.01)
    local = LocalRuntime(api_port=0, aws_port=0, run_schedules=False, hub=hub_).start()
    hub = Hub(local.api_url)
    try:
        started = time.monotonic()
        ok = report(run(hub, args.messages, args.seed))
        workers = hub_.workers
        cold = sum(workers.cold_starts.values()) if workers is not None else 0
        print(f"{time.monotonic() - started:.0f} s; {cold} execution environments started")
    finally:
        hub.close()
        local.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
