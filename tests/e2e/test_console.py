"""The operators' web console (console/, served at /console by the local runtime) in headless Chromium, driven by
Playwright: the overview shows every integration point of the catalogue the operations API gives, each with its
chart; an OC-01 order revision failed by a BRM outage is found on the failures page and resubmitted by its button,
and leaves the failed state; its timeline is drawn as an SVG with a mark per hop; the cross-reference lookup answers.

Chromium is Debian's (``/usr/bin/chromium``, or ``UTILHUB_CHROMIUM``; ``make install`` installs it when missing).
With ``UTILHUB_CONSOLE_SCREENSHOTS=<folder>`` each page is saved there as a PNG (``make console-screenshots``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright import sync_api

from localhub.aws import sfn_waits
from localhub.server import LocalRuntime
from tests.e2e.test_operations_over_http import ORDER
from tests.helpers import until

CHROMIUM = os.environ.get("UTILHUB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = os.environ.get("UTILHUB_CONSOLE_SCREENSHOTS")
ORDER_ID = "E2E-CONSOLE"
TRANSACTION_ID = f"{ORDER_ID}/1"
TRANSACTION = f"/ops/transactions/OC-01/{quote(TRANSACTION_ID, safe='')}"
WAIT_MS = 15_000


@pytest.fixture
def page(runtime: LocalRuntime) -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: make install installs Debian's (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            opened = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            opened.on("pageerror", lambda error: errors.append(str(error)))
            yield opened
            assert errors == [], errors  # no script error on any page
        finally:
            browser.close()


def open_page(page: Any, runtime: LocalRuntime, route: str) -> None:
    url = f"{runtime.api_url}/console/{route}"
    if page.url == url:  # the same hash again is no navigation: load the page afresh
        page.reload()
    else:
        page.goto(url)
    page.wait_for_function(f"document.body.dataset.ready === {route or '#/overview'!r}", timeout=WAIT_MS)
    assert page.locator(".problem").count() == 0, page.locator(".problem").all_inner_texts()
    assert "null" not in page.locator("main").inner_text().split()  # nothing rendered from an absent value


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"console-{name}.png"), full_page=True)


def state_of(client: httpx.Client) -> str:
    answer = client.get(TRANSACTION)
    return str(answer.json().get("state")) if answer.status_code == 200 else ""


def test_the_console_shows_every_point_finds_and_resubmits_a_failed_order_and_draws_its_timeline(
    runtime: LocalRuntime, client: httpx.Client, page: Any
) -> None:
    lines: list[dict[str, Any]] = ORDER["lines"]  # type: ignore[assignment]
    order = {
        **ORDER,
        "orderId": ORDER_ID,
        "lines": [{**line, "serviceAccount": {"id": f"{ORDER_ID}-SA"}, "billingAccount": {"id": f"{ORDER_ID}-BA"}} for line in lines],
    }
    with sfn_waits.scaled(0.001):
        # Given an MD-01 sync request synchronized, and OSM's order revision failed by BRM down longer than the retries
        person = {"syncRequestId": "E2E-CON-1", "entityType": "PERSON", "entityId": "E2E-CON-P1", "changedAt": "2026-12-07T06:00:00Z"}
        assert client.post("/meter-data/sync-requests", json={**person, "data": {"name": "Console Person"}}).status_code == 202
        assert client.post("/_local/sim/brm/faults", json={"kind": "down", "count": 1000}).status_code == 201
        posted = client.post("/order-to-cash/fulfillment-orders", json=order)
        assert posted.status_code == 202, posted.text
        assert until(lambda: state_of(client) == "FAILED", 30.0, interval=0.05), state_of(client)
        catalogue = client.get("/ops/summary").json()["catalogue"]

        # When an operator opens the console's overview
        open_page(page, runtime, "")

        # Then every integration point of the catalogue is there with a chart, and OC-01's shows its failure
        shown = page.locator("section.point").evaluate_all("sections => sections.map(s => s.dataset.point)")
        assert shown == catalogue
        assert len(catalogue) == 40
        assert page.locator("svg.flow-chart").count() == len(catalogue)
        failed_bars = page.locator('svg.flow-chart[data-point="OC-01"] rect.failed').evaluate_all(
            "bars => bars.map(b => Number(b.getAttribute('height')))"
        )
        assert sum(1 for height in failed_bars if height > 0) == 1, failed_bars
        screenshot(page, "overview")

        # When BRM is back and the operator finds the failed OC-01 transactions and clicks Resubmit on the order's
        assert client.delete("/_local/sim/brm/faults").status_code == 204
        open_page(page, runtime, "#/failures?point=OC-01&state=FAILED")
        row = page.locator(f'tr[data-id="{TRANSACTION_ID}"]')
        assert row.locator("td.state").inner_text() == "FAILED"
        reason = client.get(TRANSACTION).json()["reason"]
        assert reason
        assert row.locator("td.reason").inner_text() == reason
        row.locator("button.resubmit").click()

        # Then the page shows the hub's answer, and the transaction leaves the failed state and completes
        sync_api.expect(row.locator("td.answer")).to_contain_text("202", timeout=WAIT_MS)
        screenshot(page, "failures")
        assert row.locator("td.state").inner_text() == "IN_FLIGHT"
        assert until(lambda: state_of(client) == "COMPLETED", 30.0, interval=0.05), state_of(client)
        open_page(page, runtime, "#/failures?point=OC-01&state=FAILED")
        assert page.locator(f'tr[data-id="{TRANSACTION_ID}"]').count() == 0
        assert page.locator("#none").inner_text() == "No FAILED transaction at OC-01."

    # When the operator opens the order's timeline
    timeline = client.get(TRANSACTION).json()["timeline"]
    open_page(page, runtime, f"#/transaction/OC-01/{quote(TRANSACTION_ID, safe='')}")

    # Then it is an SVG with a lane per system and a mark per hop, in time order, coloured by outcome
    picture = page.locator("svg.timeline-picture")
    assert picture.count() == 1
    lanes = picture.locator("text.lane").evaluate_all("lanes => lanes.map(lane => lane.getAttribute('data-system'))")
    assert lanes == list(dict.fromkeys(hop["system"] for hop in timeline))
    assert {"OSM", "BRM", "hub"} <= set(lanes)
    marks = picture.locator("circle.hop")
    assert marks.count() == len(timeline)
    assert marks.evaluate_all("marks => marks.map(mark => mark.getAttribute('data-step'))") == [hop["step"] for hop in timeline]
    assert picture.locator("circle.hop.failed").count() >= 1  # BRM's 503s before the resubmission
    assert picture.locator("circle.hop.completed").count() >= 1  # BRM's creations after it
    screenshot(page, "timeline")

    # When the operator looks up the person's MDM id from its CCB id
    def person_linked() -> bool:
        client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
        return client.get("/ops/cross-references", params={"system": "CCB", "id": "E2E-CON-P1"}).status_code == 200

    assert until(person_linked, 20.0, interval=0.2)
    expected = client.get("/ops/cross-references", params={"system": "CCB", "id": "E2E-CON-P1"})
    assert expected.status_code == 200, expected.text
    open_page(page, runtime, "#/xref?system=CCB&id=E2E-CON-P1")

    # Then the page lists its id in every system linked
    rows = page.locator("#ids tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert dict(rows) == expected.json()["ids"]
    screenshot(page, "cross-references")
