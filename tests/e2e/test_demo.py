"""The demo's scripted scenarios (every pack, over HTTP with a real token) end as they say."""

from __future__ import annotations

import pytest

from examples.demo import run_demo
from localhub.server import LocalRuntime


def test_every_demo_step_ends_as_expected(runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]) -> None:
    failed = run_demo(runtime)
    table = capsys.readouterr().out
    assert failed == 0, table
    assert "order-to-cash" in table
    assert "meter-data" in table
    assert "DA-01 initial sync" in table
    assert "MD-11 held request released by itself" in table
    assert "MD-11 the gas SA billed at CCB in therms, no time of use" in table
    assert "CU-02 change of an imported customer" in table
