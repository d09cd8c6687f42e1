"""The local runtime bench's command line (benchmarks/local_runtime.py): the batch size it posts in, and the cause of a
batch answered 500 read from the functions' log (the hub's own output says only 500)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

from benchmarks import local_runtime
from benchmarks.local_runtime import Hub


def _hub(function_log: Path | None) -> Hub:
    return Hub(mock.Mock(spec=subprocess.Popen), "http://127.0.0.1:1", "http://127.0.0.1:2", function_log=function_log)


def test_a_backlog_is_posted_in_batches_of_the_size_asked_each_person_newer_in_turn() -> None:
    batches = list(local_runtime._requests(0, 300, per_entity=5, batch_size=20))

    assert [len(b) for b in batches] == [20] * 15
    requests = [r for b in batches for r in b]
    assert [r["syncRequestId"] for r in requests] == [f"BENCH-{n:07d}" for n in range(300)]
    by_person: dict[str, list[str]] = {}
    for r in requests:
        by_person.setdefault(r["entityId"], []).append(r["changedAt"])
    assert len(by_person) == 60
    assert all(len(times) == 5 and times == sorted(times) and len(set(times)) == 5 for times in by_person.values())


def test_the_default_batch_is_the_intakes_largest() -> None:
    assert [len(b) for b in local_runtime._requests(0, 250)] == [100, 100, 50]


@pytest.mark.parametrize("batch", ["0", "101"])
def test_a_batch_size_the_intake_would_refuse_is_refused_by_the_command_line(batch: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        local_runtime.main(["--batch", batch])

    assert exited.value.code == 2
    assert "--batch must be 1 to 100" in capsys.readouterr().err


def _report(function: str, error_type: str) -> str:
    record: dict[str, Any] = {
        "time": "2026-12-07T19:05:03.640+00:00",
        "type": "platform.report",
        "record": {"function": function, "status": "timeout", "errorType": error_type, "metrics": {"durationMs": 10670.6}},
    }
    return json.dumps(record)


def test_the_intakes_platform_reports_are_read_from_the_functions_log_and_no_other_line(tmp_path: Path) -> None:
    log = tmp_path / "functions.log"
    intake_timeout = _report("utilhub-local-MeterDataSyncRequestsFunction", "Sandbox.Timedout")
    log.write_text(
        "\n".join(
            [
                '{"level":"INFO","message":"received","function":"utilhub-local-MeterDataSyncRequestsFunction"}',
                _report("utilhub-local-MeterDataSyncDeliveryFunction", "Runtime.ExitError"),
                "Traceback (most recent call last): platform.report",
                intake_timeout,
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    assert _hub(log).platform_reports(local_runtime.INTAKE) == [intake_timeout]
    assert _hub(tmp_path / "absent.log").platform_reports(local_runtime.INTAKE) == []
    assert _hub(None).platform_reports(local_runtime.INTAKE) == []


def test_a_batch_answered_500_stops_the_post_naming_the_intakes_timeout(tmp_path: Path) -> None:
    log = tmp_path / "functions.log"
    log.write_text(_report("utilhub-local-MeterDataSyncRequestsFunction", "Sandbox.Timedout") + "\n", encoding="utf-8")
    hub = _hub(log)
    answer = mock.Mock(status_code=500, text='{"message":"Internal Server Error"}', headers={})
    client = mock.MagicMock()
    client.__enter__.return_value.post.return_value = answer

    with (
        mock.patch.object(Hub, "bearer", return_value={"Authorization": "Bearer t"}),
        mock.patch.object(httpx, "Client", return_value=client),
        pytest.raises(RuntimeError, match=r"(?s)batch refused: 500 .*Sandbox\.Timedout"),
    ):
        local_runtime.post(hub, 0, 20, batch_size=20, clients=1)
