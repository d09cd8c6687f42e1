"""The chaos run's client (localhub.chaos.Hub) as a source application behaves: a call that gets no answer in time
is sent again (its business id makes that safe) after a growing pause, so a hub busy for minutes under load is
waited for rather than the run stopping with a traceback; a 5xx or 429 is retried as the hub asks, and the last is
the call's answer."""

from __future__ import annotations

import httpx
import pytest

from localhub import chaos


def client_answering_after(failures: int) -> tuple[httpx.Client, list[int]]:
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= failures:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(202, json={"accepted": True})

    return httpx.Client(base_url="http://hub", transport=httpx.MockTransport(answer)), calls


def test_a_call_without_an_answer_is_sent_again_after_a_growing_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr("localhub.chaos.time.sleep", pauses.append)
    hub = chaos.Hub.__new__(chaos.Hub)
    hub.retried = 0
    hub._client, calls = client_answering_after(5)

    answer = hub.post("/meter-data/sync-requests", {"syncRequestId": "SR-1"})

    assert answer.status_code == 202
    assert (len(calls), hub.retried) == (6, 5)
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_a_call_that_never_gets_an_answer_fails_after_its_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("localhub.chaos.time.sleep", lambda _: None)
    hub = chaos.Hub.__new__(chaos.Hub)
    hub.retried = 0
    hub._client, calls = client_answering_after(100)

    with pytest.raises(httpx.ReadTimeout):
        hub.get("/field-work/activities/ODM/A-1")
    assert len(calls) == 8


def test_a_hub_that_answers_503_is_asked_again_as_it_asks_and_a_last_5xx_is_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 5xx is an answer (a target down, the API's own 503 after its integration timeout): the run's operator resubmits
    # what ended failed, so a call does not wait minutes on one message (CU-01's 208 posts are sent one after another)
    pauses: list[float] = []
    monkeypatch.setattr("localhub.chaos.time.sleep", pauses.append)
    hub = chaos.Hub.__new__(chaos.Hub)
    hub.retried = 0
    hub._client = httpx.Client(
        base_url="http://hub", transport=httpx.MockTransport(lambda _: httpx.Response(503, headers={"retry-after": "1"}))
    )

    answer = hub.post("/customer/accounts", {"accountId": "A-1"})

    assert answer.status_code == 503
    assert pauses == [1.0] * 7


def test_a_tick_whose_redelivery_gets_no_answer_in_time_goes_on_and_the_next_tick_asks_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Making every failed message visible after an outage (the local runtime's control call) can outlast the client's
    # wait on a loaded machine; the call goes on in the hub, and a default run stopped here with a ReadTimeout. A round
    # stands for a visibility timeout passed (the monitors' time-outs count them): one not redelivered is not counted
    asked: list[str] = []

    def control(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.endswith("/queues/redeliver-now") and asked.count(request.url.path) == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"madeVisible": 0, "result": {}, "error": None})

    monkeypatch.setattr("localhub.chaos.httpx.post", lambda *_, **__: httpx.Response(200))
    hub = chaos.Hub.__new__(chaos.Hub)
    hub.rounds = 0
    hub._simulator_urls = {"DACS": "http://dacs"}
    hub._client = httpx.Client(base_url="http://hub", transport=httpx.MockTransport(control))

    chaos.tick(hub)
    chaos.tick(hub)

    assert hub.rounds == 1
    assert asked.count("/_local/queues/redeliver-now") == 2
