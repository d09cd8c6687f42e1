"""The local Lambda runtime's environment: each function sees its own variables and the runtime's,
nothing else, and what another thread rewrites meanwhile is not clobbered."""

from __future__ import annotations

import os
import threading

import pytest

from localhub.lambda_.runtime import PROCESS_VARIABLES, function_environment


def test_a_function_sees_its_variables_and_the_runtimes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("UTILHUB_SOMETHING_OF_ANOTHER_FUNCTION", "x")
    with function_environment({"SYNC_REQUESTS_TABLE": "requests"}):
        assert os.environ["SYNC_REQUESTS_TABLE"] == "requests"
        assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
        assert "UTILHUB_SOMETHING_OF_ANOTHER_FUNCTION" not in os.environ
    assert os.environ["UTILHUB_SOMETHING_OF_ANOTHER_FUNCTION"] == "x"
    assert "SYNC_REQUESTS_TABLE" not in os.environ


def test_what_another_thread_rewrites_during_an_invocation_is_kept() -> None:
    (name,) = PROCESS_VARIABLES
    os.environ[name] = "before"
    inside, done = threading.Event(), threading.Event()

    def invocation() -> None:
        with function_environment({"A": "1"}):
            inside.set()
            done.wait(5)

    worker = threading.Thread(target=invocation)
    worker.start()
    assert inside.wait(5)
    # the other thread pops and sets the variable while the function runs, as the test runner does
    os.environ.pop(name)
    os.environ[name] = "after"
    done.set()
    worker.join(5)
    assert os.environ.pop(name) == "after"
    assert "A" not in os.environ
