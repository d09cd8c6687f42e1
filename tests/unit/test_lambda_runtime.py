"""The local Lambda runtime's environment: each function sees its own variables and the runtime's,
nothing else, and what another thread rewrites meanwhile is not clobbered."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from localhub.lambda_.runtime import PROCESS_VARIABLES, function_environment, invoke
from localhub.template import FunctionSpec


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


class _Watched(dict[str, str]):
    """The process environment, noting every variable that was ever absent while set before."""

    def __init__(self, initial: dict[str, str]) -> None:
        super().__init__(initial)
        self.removed: list[str] = []

    def __delitem__(self, key: str) -> None:
        self.removed.append(key)
        super().__delitem__(key)

    def pop(self, key: str, *default: str) -> str:  # type: ignore[override]
        if key in self:
            self.removed.append(key)
        return super().pop(key, *default)


def test_the_runtimes_variables_are_never_absent_while_a_function_environment_is_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the runtime's endpoint and credentials in the process environment, read by the harness's own clients
    # from other threads (a client built while AWS_ENDPOINT_URL is missing would call AWS itself)
    watched = _Watched({**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ACCESS_KEY_ID": "testing", "UTILHUB_OTHER": "x"})
    monkeypatch.setattr(os, "environ", watched)
    # When a function's environment is put in place and taken away again
    with function_environment({"UTILHUB_MINE": "1"}):
        assert os.environ["UTILHUB_MINE"] == "1"
    # Then only the other function's and this function's own variables came and went: the endpoint never left
    assert "AWS_ENDPOINT_URL" not in watched.removed
    assert "AWS_ACCESS_KEY_ID" not in watched.removed
    assert {"UTILHUB_OTHER", "UTILHUB_MINE"} <= set(watched.removed)
    assert watched["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert watched["UTILHUB_OTHER"] == "x"


def test_a_cold_starts_init_is_outside_the_invocations_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a handler whose module takes 0.4 s to import (its init), in a function of a 1 s timeout
    package = tmp_path / "slowinit"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(
        "import time\ntime.sleep(0.4)\n\ndef lambda_handler(event, context):\n    return context.get_remaining_time_in_millis()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = FunctionSpec("SlowInit", "slow-init", "slowinit/", "app.lambda_handler", 1, 128, {}, [], {})

    # When it is invoked cold
    invocation = invoke(spec, {})

    # Then its handler starts with its whole timeout left, as on Lambda (the init phase has a budget of its own)
    assert invocation.error is None
    assert invocation.result > 800
