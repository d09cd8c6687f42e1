"""Digital Asset Cloud Service simulator: the import of the extract files the hub moves to ``upload/``.

DACS reads the exchange bucket (given by the runtime: :meth:`DacsSimulator.attach_exchange`). An
import (``POST /imports``, or :meth:`DacsSimulator.import_uploads`) takes every file under
``upload/``, in the order contacts, metered service points, metered services, and for each:

- refuses the whole file when its name is not a DACS extract name, or when a line breaks the
  format (the header, the field count, an escape, UTF-8, the final LF): nothing of it is loaded;
- validates every record (ids, ``changeDateTime`` in UTC, dates, lengths) against DACS's own contract
  (:mod:`localhub.simulators.dacs_contract`, written from the documented file format, never the hub's
  writer or records), and checks what a metered service refers to (its contact and its metered service points
  must be known to DACS);
  (a metered service whose contact DACS does not know is refused NEGATIVE, "unknown contact <id>": DACS
  loads no orphan);
- loads each valid record (a newer or equal image replaces the loaded one; an older image is refused
  as stale), and answers each record POSITIVE or NEGATIVE with the reason;
- moves the file to ``processed/`` (refused files to ``rejected/``), so an import never takes a file twice.

The answers per record are kept as acknowledgements; when the runtime gives a sender
(:attr:`send_to_hub`), :meth:`send_acknowledgements` posts them to the hub's ``/dacs/acknowledgements``
and keeps those the hub did not take for the next try. Faults: ``down`` makes the simulator's routes
answer 503; ``reject`` makes the next N valid records NEGATIVE with the fault's reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

import localhub.simulators.dacs_contract as contract
from localhub.simulators.base import Reply, Simulator

UPLOAD = "upload/"
HubSender = Callable[[str, bytes, str], tuple[int, bytes]]  # (path, body, content type) -> (status, body)
ACK_BATCH = 500


@dataclass
class FileImport:
    key: str
    status: str  # LOADED (every record answered) or REJECTED (nothing loaded)
    reason: str | None = None
    positive: int = 0
    negative: int = 0


@dataclass
class DacsSimulator(Simulator):
    system: str = "DACS"
    send_to_hub: HubSender | None = None
    imports: list[FileImport] = field(default_factory=list)
    pending_acknowledgements: list[dict[str, Any]] = field(default_factory=list)
    acknowledgements_sent: int = 0
    _s3: Any = None
    _bucket: str | None = None

    def attach_exchange(self, s3: Any, bucket: str) -> None:
        """The bucket DACS reads its ``upload/`` folder from, and the client to read it with."""
        self._s3, self._bucket = s3, bucket

    def requires_credentials(self, path: str) -> bool:
        return False  # DACS's own scheduler's routes: the hub never calls DACS

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        route = (method, path.split("?")[0].rstrip("/"))
        if route == ("POST", "/imports"):
            done = self.import_uploads()
            return Reply(200, json.dumps([item.__dict__ for item in done]).encode(), "application/json")
        if route == ("POST", "/acknowledgements/send"):
            sent = self.send_acknowledgements()
            return Reply(200, json.dumps({"sent": sent, "pending": len(self.pending_acknowledgements)}).encode(), "application/json")
        return Reply(404, b"no such service", "text/plain")

    # ------------------------------------------------------------------ import
    def _uploads(self) -> list[tuple[str, str]]:
        if self._s3 is None or self._bucket is None:
            raise RuntimeError("DACS has no exchange bucket: attach_exchange() first")
        keys: list[tuple[str, str]] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=UPLOAD):
            keys.extend((item["Key"], item["ETag"]) for item in page.get("Contents", []))

        def order(entry: tuple[str, str]) -> tuple[int, str]:
            found = contract.kind_of(entry[0])
            return (contract.IMPORT_ORDER.index(found) if found else -1, entry[0])

        return sorted(keys, key=order)

    def import_uploads(self) -> list[FileImport]:
        """Import every file under ``upload/`` now; returns what became of each."""
        with self._lock:
            done = [self._import(key) for key, _ in self._uploads()]
            self.imports.extend(done)
            return done

    def _content(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())

    def _import(self, key: str) -> FileImport:
        name = key.rsplit("/", 1)[-1]
        kind = contract.kind_of(key)
        if kind is None:
            return self._file_done(FileImport(key, "REJECTED", f"{name} is not a DACS extract file name"), "rejected/")
        try:  # the whole file is read before anything of it is loaded
            lines = contract.read_file(kind, self._content(key))
        except contract.FileRefused as exc:
            return self._file_done(FileImport(key, "REJECTED", str(exc)), "rejected/")
        result = FileImport(key, "LOADED")
        record_type = contract.RECORD_TYPE[kind]
        for number, values in lines:
            reference = values.get("externalReferenceId", "")
            try:
                record = contract.record_of(kind, values)
            except ValidationError as exc:
                self._answer(
                    result, name, record_type, reference, values.get("changeDateTime"), f"line {number}: {contract.refusal_of(exc)}"
                )
                continue
            self._answer(result, name, record_type, reference, record.changeDateTime, self._load(record_type, record, name))
        self.note_received({"file": key, "kind": record_type, "records": len(lines)})
        return self._file_done(result, "processed/")

    def _load(self, record_type: str, record: contract.AnyRecord, name: str) -> str | None:
        """Loads the record; returns why it was refused, or None."""
        if isinstance(record, contract.MeteredService):
            missing = (
                [f"contact {record.contactExternalReferenceId}"]
                if f"CONTACT#{record.contactExternalReferenceId}" not in self.records
                else []
            )
            missing += [
                f"metered service point {sp}" for sp in record.service_point_ids if f"METERED_SERVICE_POINT#{sp}" not in self.records
            ]
            if missing:
                return f"unknown {', '.join(missing)}"
        if fault := self.take_fault("reject"):
            return fault.reason
        key = f"{record_type}#{record.externalReferenceId}"
        loaded = self.records.get(key)
        if loaded is not None and datetime.fromisoformat(loaded["changeDateTime"]) > record.changed_at:
            return f"stale: DACS has the image of {loaded['changeDateTime']}"
        self.records[key] = {
            **record.model_dump(mode="json"),
            "changeDateTime": record.changed_at.isoformat(),
            "file": name,
            "version": (loaded["version"] + 1) if loaded else 1,
        }
        return None

    def _answer(self, result: FileImport, name: str, record_type: str, reference: str, changed: str | None, refused: str | None) -> None:
        if refused is None:
            result.positive += 1
        else:
            result.negative += 1
        self.pending_acknowledgements.append(
            {
                "fileName": name,
                "recordType": record_type,
                "externalReferenceId": reference,
                "changeDateTime": changed,
                "result": "NEGATIVE" if refused else "POSITIVE",
                **({"reason": refused} if refused else {}),
            }
        )

    def _file_done(self, result: FileImport, folder: str) -> FileImport:
        target = folder + result.key.removeprefix(UPLOAD)
        self._s3.copy_object(Bucket=self._bucket, Key=target, CopySource={"Bucket": self._bucket, "Key": result.key})
        self._s3.delete_object(Bucket=self._bucket, Key=result.key)
        return result

    # ------------------------------------------------------------------ acknowledgements
    def send_acknowledgements(self) -> int:
        """Post the pending acknowledgements to the hub, ``ACK_BATCH`` at a time; returns how many it took.
        What the hub did not take (an error answer, no answer) stays pending for the next try."""
        if self.send_to_hub is None:
            raise RuntimeError("DACS has no way to reach the hub")
        sent = 0
        while True:
            with self._lock:
                batch = self.pending_acknowledgements[:ACK_BATCH]
            if not batch:
                return sent
            body = json.dumps({"acknowledgements": batch}).encode()
            try:
                status, _ = self.send_to_hub("/dacs/acknowledgements", body, "application/json")
            except OSError:
                return sent
            if status >= 300:
                return sent
            with self._lock:
                del self.pending_acknowledgements[: len(batch)]
                self.acknowledgements_sent += len(batch)
            sent += len(batch)

    def state(self, *, summary: bool = False) -> dict[str, Any]:
        """As every simulator's, with the files imported and the acknowledgements pending and sent."""
        with self._lock:
            files = (
                {"filesImported": len(self.imports), "filesRejected": sum(1 for i in self.imports if i.status == "REJECTED")}
                if summary
                else {"imports": [i.__dict__ for i in self.imports]}
            )
            counts: dict[str, int] = {}
            for key in self.records:
                kind = key.split("#", 1)[0]
                counts[kind] = counts.get(kind, 0) + 1
            return {
                **super().state(summary=summary),
                **files,
                "recordsByType": counts,
                "acknowledgementsPending": len(self.pending_acknowledgements),
                "acknowledgementsSent": self.acknowledgements_sent,
            }
