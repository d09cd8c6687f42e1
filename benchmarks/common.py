"""What every benchmark shares: sample messages, interleaved timing, quiet output, the table."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def sample_body(relative: str) -> str:
    """The ``body`` of a sample API event under ``events/``."""
    event: dict[str, Any] = json.loads((EVENTS / relative).read_text(encoding="utf-8"))
    return str(event["body"])


def best_of(cases: dict[str, Callable[[], object]], *, iterations: int, rounds: int) -> dict[str, float]:
    """CPU microseconds per call of each case: the least over ``rounds``, the cases interleaved.

    Interleaving puts the floor and the hub's path under the same load in each round, so
    their ratio holds on a busy machine even when the absolute figures move.
    """
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.process_time()
            for _ in range(iterations):
                case()
            best[name] = min(best[name], (time.process_time() - started) / iterations * 1e6)
    return best


@dataclass(frozen=True)
class Row:
    """One line of the summary: the hub's figure, its floor and the ratio of the two."""

    measure: str
    hub: float
    floor: float | None
    unit: str
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.hub / self.floor if self.floor else None


def format_table(headers: list[str], rows: list[list[str]], *, right: set[int] | None = None) -> str:
    """A plain-text table; columns listed in ``right`` are right-aligned."""
    right = right or set()
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def figure(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant figures, without scientific notation."""
    if value == 0:
        return "0"
    magnitude = len(str(int(abs(value)))) if abs(value) >= 1 else 0
    decimals = max(0, digits - magnitude) if abs(value) >= 1 else digits + _leading_zeros(value) - 1
    return f"{value:,.{decimals}f}"


def _leading_zeros(value: float) -> int:
    zeros = 1
    value = abs(value)
    while value < 0.1 and zeros < 12:
        value *= 10
        zeros += 1
    return zeros


class CapturedOutput:
    """Where the output of a :func:`captured` block went (byte counts of each stream)."""

    def __init__(self, stdout: Path, stderr: Path) -> None:
        self.stdout = stdout
        self.stderr = stderr

    def stdout_bytes(self) -> int:
        sys.stdout.flush()
        return self.stdout.stat().st_size


@contextmanager
def captured() -> Iterator[CapturedOutput]:
    """Send everything written to file descriptors 1 and 2 (logs, servers) to temporary files.

    The functions' logs (Powertools' JSON lines and metrics) go to standard output, so the
    size of the captured standard output is what CloudWatch Logs would ingest from them.
    """
    with tempfile.TemporaryDirectory(prefix="utilhub-bench-") as directory:
        out_path, err_path = Path(directory, "stdout.log"), Path(directory, "stderr.log")
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        with out_path.open("wb") as out, err_path.open("wb") as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                yield CapturedOutput(out_path, err_path)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
