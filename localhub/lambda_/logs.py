"""What the functions' execution environments write, as ``make run`` and ``make demo`` show it.

On Lambda each function's output (Powertools' JSON lines, anything else it prints) goes to its log group; locally it
goes whole to one file (``--log-file``, named in the banner) and the terminal gets one short line per hop instead:
time, integration point, the transaction's id, the system, the outcome. ``--verbose`` prints the JSON lines on the
terminal as before (and still writes the file).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, TextIO

CATALOGUE_ID = re.compile(r"\b(?:FW|DA|MD|CU|OC)-\d{2}\b")
# The keys the library logs a transaction's id under, most specific first (platform/observability, the packs).
ID_KEYS = (
    "syncRequestId",
    "usageRequestId",
    "orderId",
    "order",
    "activityId",
    "siebelAccountId",
    "appointmentId",
    "notificationId",
    "eventId",
    "updateId",
    "runId",
    "queue",
    "key",
)
SYSTEM_KEYS = ("target", "system", "billingSystemId", "relay")
OUTCOME_KEYS = ("task", "result", "outcome", "action", "status", "problem", "error")
LEVEL_STYLES = {"WARNING": "WARN", "ERROR": "ERROR", "CRITICAL": "ERROR"}


def function_labels(descriptions: Mapping[str, str]) -> dict[str, str]:
    """Each function's label on the terminal, by logical id: the catalogue ids its ``Description`` names (``OC-01``,
    ``MD-13,MD-20``), else its logical id without ``Function``."""
    labels = {}
    for logical_id, description in descriptions.items():
        points = list(dict.fromkeys(CATALOGUE_ID.findall(description)))
        labels[logical_id] = ",".join(points[:3]) if points else logical_id.removesuffix("Function")
    return labels


def hop_line(label: str, record: Mapping[str, Any]) -> str:
    """One line for one JSON log record of function ``label``: time, point, id, system, outcome."""
    at = str(record.get("timestamp", ""))
    clock = at[11:19] if len(at) >= 19 else time.strftime("%H:%M:%S")
    identifier = next((str(record[k]) for k in ID_KEYS if record.get(k) not in (None, "")), "-")
    if "revision" in record and "orderId" in record:
        identifier = f"{record['orderId']}/{record['revision']}"
    system = next((str(record[k]) for k in SYSTEM_KEYS if record.get(k) not in (None, "")), "-")
    outcome = str(record.get("message", ""))
    details = [f"{k}={record[k]}" for k in OUTCOME_KEYS if record.get(k) not in (None, "")]
    level = LEVEL_STYLES.get(str(record.get("level", "")).upper())
    text = " ".join([*([level] if level else []), outcome, *details])
    return f"{clock}  {label:<20} {identifier:<24} {system:<6} {text}"


class FunctionLogs:
    """Where the execution environments' output goes: every line to ``path``; on ``terminal`` the JSON lines themselves
    (``verbose``) or one hop line for each."""

    def __init__(
        self, path: Path | None, terminal: TextIO | None, *, verbose: bool = False, labels: Mapping[str, str] | None = None
    ) -> None:
        self.path = path
        self.terminal = terminal
        self.verbose = verbose
        self.labels = dict(labels or {})
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)

    def label(self, logical_id: str) -> str:
        return self.labels.get(logical_id, logical_id.removesuffix("Function"))

    def write(self, logical_id: str, line: str) -> None:
        """One line the function ``logical_id`` wrote."""
        line = line.rstrip("\n")
        if not line:
            return
        shown = line if self.verbose else self._hop(logical_id, line)
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
            if self.terminal is not None and shown is not None:
                self.terminal.write(shown + "\n")
                self.terminal.flush()

    def _hop(self, logical_id: str, line: str) -> str | None:
        try:
            record = json.loads(line)
        except ValueError:
            return None  # a traceback or a print: in the file only (the invocation's error is reported anyway)
        if not isinstance(record, dict) or "message" not in record:
            return None  # a metric (Powertools' embedded metric format), not a hop: in the file only
        return hop_line(self.label(logical_id), record)

    def follow(self, logical_id: str, stream: IO[bytes]) -> threading.Thread:
        """Read ``stream`` (an environment's stdout and stderr) line by line until it ends, in a thread of its own."""

        def read() -> None:
            with stream:
                for raw in stream:
                    self.write(logical_id, raw.decode("utf-8", errors="replace"))

        reader = threading.Thread(target=read, name=f"logs-{logical_id}", daemon=True)
        reader.start()
        return reader

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
