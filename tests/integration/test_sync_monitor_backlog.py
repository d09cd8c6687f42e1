"""The sync monitor on a backlog (utilhub.syncrequests.monitor): one run works every shard page by
page, within its time budget, keeping one request in flight per entity and each entity's order;
what a run leaves is taken by the next. Through the real monitor and delivery functions on moto."""

from __future__ import annotations

import itertools
import json
from typing import Any

from localhub.hub import LocalHub
from localhub.lambda_.runtime import function_environment, invoke
from localhub.simulators.mdm import MdmSimulator
from tests.integration.test_meter_data_person_sync import CLAIMS, JSON, MONITOR, person, status_of
from utilhub.platform import wiring


def backlog(hub: LocalHub, entities: int, changes: int) -> list[dict[str, Any]]:
    """``changes`` images of each of ``entities`` persons, stored newest first."""
    bodies = [
        person(f"SR-BL{e}-{c}", entity_id=f"P-BL{e}", name=f"Person {e} v{c}", changed=f"2026-11-20T09:0{c}:00Z")
        for c in range(changes)
        for e in range(entities)
    ]
    newest_first = bodies[::-1]
    for start in range(0, len(newest_first), 100):
        chunk = newest_first[start : start + 100]
        response = hub.call_api(
            "POST", "/meter-data/sync-requests:batch", body=json.dumps({"requests": chunk}), headers=JSON, claims=CLAIMS
        )
        assert (response.status, response.json()["accepted"]) == (202, len(chunk))
    return bodies


def monitor(hub: LocalHub, **environment: str) -> dict[str, int]:
    result = invoke(hub.function(MONITOR), {}, extra_environment=environment)
    assert not result.failed, result.error
    return result.result  # type: ignore[no-any-return]


def test_one_run_works_a_backlog_many_pages_deep_one_request_per_entity(hub: LocalHub) -> None:
    # Given 30 persons with 3 changes each: 90 requests, 8 shards, pages of 4
    backlog(hub, 30, 3)
    # When the monitor runs once
    report = monitor(hub, UTILHUB_SYNC_MONITOR_PAGE_SIZE="4")
    # Then it went through every page of every shard and sent each person's oldest change, and only that
    assert report["queued"] == 30
    assert report["pages"] >= 90 // 4
    assert report["out_of_time"] == 0
    assert all(status_of(hub, f"SR-BL{e}-0")["status"] == "SENT" for e in range(30))
    assert all(status_of(hub, f"SR-BL{e}-{c}")["status"] == "PENDING" for e in range(30) for c in (1, 2))


def test_the_backlog_drains_in_order_with_each_request_sent_once(hub: LocalHub) -> None:
    # Given the same backlog
    bodies = backlog(hub, 30, 3)
    # When the monitor runs and delivery follows, until nothing is left
    runs = 0
    while any(status_of(hub, b["syncRequestId"])["status"] != "SYNCHRONIZED" for b in bodies):
        monitor(hub, UTILHUB_SYNC_MONITOR_PAGE_SIZE="4")
        hub.drain(max_polls=1000)
        runs += 1
        assert runs <= 3, "one change of each entity per run: three runs drain three changes"
    # Then MDM got every request once, each person's changes in order, and holds the newest image
    mdm = hub.simulators["MDM"]
    assert isinstance(mdm, MdmSimulator)
    assert sorted(mdm.accepted) == sorted(b["syncRequestId"] for b in bodies)
    assert set(mdm.accepted.values()) == {1}
    assert mdm.older_images == 0
    order = [m["syncRequestId"] for m in mdm.received]
    for e in range(30):
        assert [i for i in order if i.startswith(f"SR-BL{e}-")] == [f"SR-BL{e}-{c}" for c in range(3)]
    assert all(mdm.records[f"PERSON#P-BL{e}"]["data"]["ContactName"] == f"Person {e} v2" for e in range(30))


def test_a_run_out_of_time_stops_between_pages_and_the_next_run_carries_on(hub: LocalHub) -> None:
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.wiring import monitor_for

    # Given 200 persons with one change each (about 25 per shard), pages of 5, and a run whose budget lasts three clock readings
    backlog(hub, 200, 1)
    spec = hub.function(MONITOR)
    with function_environment({**spec.environment, "UTILHUB_SYNC_MONITOR_PAGE_SIZE": "5"}):
        wiring.reset()
        runner = monitor_for(FLOW)
        ticks = itertools.count()
        runner._monotonic = lambda: float(next(ticks)) * runner._budget / 3  # each reading spends a third
        # When it runs
        first = runner.run()
        # Then it stopped when its budget was spent, with what it claimed queued, and nothing half done
        assert first.out_of_time == 1
        assert 0 < first.queued < 200
        # (each claimed change delivered to MDM, then its outcome told to CCB: two messages each)
        assert 2 * first.queued == hub.drain(max_polls=1000)
        # When the next runs have time
        runner._monotonic = lambda: 0.0
        second = runner.run()
    wiring.reset()
    hub.drain(max_polls=1000)
    # Then they take the rest, and every person reached MDM once
    assert first.queued + second.queued == 200
    mdm = hub.simulators["MDM"]
    assert isinstance(mdm, MdmSimulator)
    assert len(mdm.accepted) == 200
    assert set(mdm.accepted.values()) == {1}


def test_the_monitor_report_counts_what_waits(hub: LocalHub) -> None:
    # Given one person's two changes, in one batch (a load waits for the monitor's run)
    batch = [person("SR-W1", changed="2026-11-20T09:00:00Z"), person("SR-W2", name="Ada King", changed="2026-11-20T10:00:00Z")]
    response = hub.call_api("POST", "/meter-data/sync-requests:batch", body=json.dumps({"requests": batch}), headers=JSON, claims=CLAIMS)
    assert response.status == 202
    # When the monitor runs, Then one is queued and one waits behind it
    report = hub.run_schedule(MONITOR).result
    assert (report["queued"], report["waiting"], report["held"], report["released"]) == (1, 1, 0, 0)


def test_an_acknowledgement_between_pages_never_lets_a_newer_change_past_an_older_one(hub: LocalHub) -> None:
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.wiring import monitor_for

    # Given 30 persons with 3 changes each, and a first run that sent each person's oldest change
    bodies = backlog(hub, 30, 3)
    assert monitor(hub, UTILHUB_SYNC_MONITOR_PAGE_SIZE="4")["queued"] == 30
    spec = hub.function(MONITOR)
    with function_environment({**spec.environment, "UTILHUB_SYNC_MONITOR_PAGE_SIZE": "2"}):
        wiring.reset()
        runner = monitor_for(FLOW)
        # When the next run has decided the first page of its first shard (second changes, their persons
        # in flight), and MDM acknowledges every change in flight before it reads the next shard
        read = runner._store.pending_page
        shards: list[int] = []
        acknowledged: list[int] = []

        def acknowledging_after_the_first_shard_s_first_page(shard: int, *args: Any, **kwargs: Any) -> Any:
            if shards and shard != shards[0] and not acknowledged:
                acknowledged.append(hub.drain(max_polls=1000))
            shards.append(shard)
            return read(shard, *args, **kwargs)

        runner._store.pending_page = acknowledging_after_the_first_shard_s_first_page  # type: ignore[method-assign]
        report = runner.run()
    wiring.reset()
    # the 30 changes in flight delivered and acknowledged, each acknowledgement sending its person's next change at once
    # (docs/sync-requests.md#sent-at-once): 90 deliveries and their 90 outcomes told to CCB
    assert acknowledged == [180]
    # Then the run itself sent none of the changes the acknowledgements sent (the first shard's persons left their
    # second change on a page it read before: it never decides them again), and nothing was discarded
    assert (report.queued, report.discarded) == (0, 0)
    assert all(status_of(hub, f"SR-BL{e}-2")["status"] == "SYNCHRONIZED" for e in range(30))
    # And the backlog drains with every change sent once, in order
    for _ in range(4):
        hub.drain(max_polls=1000)
        monitor(hub, UTILHUB_SYNC_MONITOR_PAGE_SIZE="4")
    hub.drain(max_polls=1000)
    mdm = hub.simulators["MDM"]
    assert isinstance(mdm, MdmSimulator)
    assert sorted(mdm.accepted) == sorted(b["syncRequestId"] for b in bodies)
    assert set(mdm.accepted.values()) == {1}
    order = [m["syncRequestId"] for m in mdm.received]
    for e in range(30):
        assert [i for i in order if i.startswith(f"SR-BL{e}-")] == [f"SR-BL{e}-{c}" for c in range(3)]
