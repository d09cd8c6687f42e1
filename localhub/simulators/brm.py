"""Billing and Revenue Management simulator: accounts, the paying hierarchy, /billinfo and /payinfo,
one set per billing system (``/billing-systems/{id}/...``).

It validates every body against BRM's own contract (:mod:`localhub.simulators.brm_contract`, written from BRM's
opcode and flist interface, never the hub's models), refuses duplicates (409) as BRM does, refuses references to
objects it does not have (422), keeps the hierarchy free of cycles, keeps a /billinfo paid by a /payinfo of its own
account, and has no delete: objects created by order fulfillment are never deleted or inactivated. A /billinfo or
/payinfo is changed (``PUT``, PCM_OP_CUST_SET_BILLINFO / PCM_OP_CUST_SET_PAYINFO) with its whole new image: its
values, or another account (a move).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ValidationError

from localhub.simulators.base import Reply, Simulator, SimulatorError, json_reply
from localhub.simulators.brm_contract import Account, BillInfo, ParentChange, PayInfo

_ROUTE = re.compile(
    r"^/billing-systems/(?P<system>[^/]+)/(?P<collection>accounts|billinfos|payinfos)(?:/(?P<poid>[^/]+)(?P<parent>/parent)?)?$"
)
_KEYS = {"accounts": "accountNo", "billinfos": "billInfoId", "payinfos": "payInfoId"}
_MODELS: dict[str, type[BaseModel]] = {"accounts": Account, "billinfos": BillInfo, "payinfos": PayInfo}
_TYPES = {"accounts": "/account", "billinfos": "/billinfo", "payinfos": "/payinfo"}


class BrmSimulator(Simulator):
    def __init__(self) -> None:
        super().__init__(system="BRM")
        self._ids = itertools.count(1001)
        self.calls: list[str] = []

    def _objects(self, system: str, collection: str) -> dict[str, dict[str, Any]]:
        return self.records.setdefault(system, {}).setdefault(collection, {})  # type: ignore[no-any-return]

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        parts = urlsplit(path)
        found = _ROUTE.match(parts.path)
        if not found:
            return json_reply(404, {"error": "NOT_FOUND", "message": f"no BRM service at {parts.path}"})
        system, collection = unquote(found["system"]), found["collection"]
        poid = unquote(found["poid"]) if found["poid"] else None
        with self._lock:
            self.calls.append(f"{method} {collection}")
            objects = self._objects(system, collection)
            if method == "DELETE":
                return json_reply(405, {"error": "NOT_SUPPORTED", "message": "objects created by order fulfillment are never deleted"})
            if method == "GET" and poid is None:
                key = parse_qs(parts.query).get(_KEYS[collection], [""])[0]
                match = next((o for o in objects.values() if o[_KEYS[collection]] == key), None)
                return json_reply(200, match) if match else json_reply(404, {"error": "NOT_FOUND"})
            if method == "GET":
                return json_reply(200, objects[poid]) if poid in objects else json_reply(404, {"error": "NOT_FOUND"})
            if method == "POST" and poid is None:
                return self._create(system, collection, self._parse(collection, body))
            if method == "PUT" and collection == "accounts" and poid and found["parent"]:
                return self._reparent(system, poid, self._validated(ParentChange, "paying parent", body))
            if method == "PUT" and collection in ("billinfos", "payinfos") and poid and not found["parent"]:
                return self._change(system, collection, poid, self._parse(collection, body))
        return json_reply(405, {"error": "NOT_SUPPORTED", "message": f"{method} {parts.path}"})

    @staticmethod
    def _body(body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:
            raise SimulatorError(f"not JSON: {exc}") from None

    def _validated(self, model: type[Any], what: str, body: bytes) -> Any:
        try:
            return model.model_validate(self._body(body))
        except ValidationError as exc:
            raise SimulatorError(f"invalid {what}: {exc.errors(include_url=False, include_input=False)}") from None

    def _parse(self, collection: str, body: bytes) -> dict[str, Any]:
        parsed: BaseModel = self._validated(_MODELS[collection], collection[:-1], body)
        return parsed.model_dump(exclude_none=True)

    def _refused_references(self, system: str, collection: str, data: dict[str, Any]) -> Reply | None:
        """A 422 when ``data`` names an account or /payinfo BRM does not have, or a /payinfo of another account."""
        accounts = self._objects(system, "accounts")
        for reference in ("accountPoid", "parentPoid"):
            if data.get(reference) and data[reference] not in accounts:
                return json_reply(422, {"error": "UNKNOWN_ACCOUNT", "message": f"{reference} {data[reference]} does not exist"})
        if collection == "billinfos":
            payinfo = self._objects(system, "payinfos").get(data["payInfoPoid"])
            if payinfo is None:
                return json_reply(422, {"error": "UNKNOWN_PAYINFO", "message": f"payInfoPoid {data['payInfoPoid']} does not exist"})
            if payinfo["accountPoid"] != data["accountPoid"] or payinfo["payType"] != data["payType"]:
                return json_reply(
                    422, {"error": "PAYINFO_MISMATCH", "message": "a /billinfo is paid by a /payinfo of its own account, with its pay type"}
                )
        return None

    def _create(self, system: str, collection: str, data: dict[str, Any]) -> Reply:
        if fault := self.take_fault("reject"):
            return json_reply(422, {"error": "BUSINESS_ERROR", "message": fault.reason})
        objects = self._objects(system, collection)
        key_field = _KEYS[collection]
        if any(o[key_field] == data[key_field] for o in objects.values()):
            return json_reply(409, {"error": "DUPLICATE", "message": f"{key_field} {data[key_field]} already exists"})
        if refused := self._refused_references(system, collection, data):
            return refused
        poid = f"0.0.0.1 {_TYPES[collection]} {next(self._ids)}"
        objects[poid] = {**data, "poid": poid}
        return json_reply(201, objects[poid])

    def _change(self, system: str, collection: str, poid: str, data: dict[str, Any]) -> Reply:
        """A /billinfo or /payinfo set to its new image; its id stays, its account may change (a move)."""
        if fault := self.take_fault("reject"):
            return json_reply(422, {"error": "BUSINESS_ERROR", "message": fault.reason})
        objects = self._objects(system, collection)
        if poid not in objects:
            return json_reply(404, {"error": "NOT_FOUND"})
        key_field = _KEYS[collection]
        if data[key_field] != objects[poid][key_field]:
            return json_reply(422, {"error": "ID_CHANGED", "message": f"{key_field} of {poid} cannot change"})
        if refused := self._refused_references(system, collection, data):
            return refused
        objects[poid] = {**data, "poid": poid}
        return json_reply(200, objects[poid])

    def _reparent(self, system: str, poid: str, change: ParentChange) -> Reply:
        accounts = self._objects(system, "accounts")
        if poid not in accounts or (change.parentPoid is not None and change.parentPoid not in accounts):
            return json_reply(404, {"error": "NOT_FOUND"})
        if change.parentPoid is None:
            accounts[poid] = {**accounts[poid], "parentPoid": None, "paying": True}
            return json_reply(200, accounts[poid])
        ancestor: str | None = change.parentPoid
        while ancestor:
            if ancestor == poid:
                return json_reply(422, {"error": "CYCLE", "message": "an account cannot pay for one of its parents"})
            ancestor = accounts[ancestor].get("parentPoid")
        accounts[poid] = {**accounts[poid], "parentPoid": change.parentPoid, "paying": change.paying}
        return json_reply(200, accounts[poid])

    def hierarchy(self, system: str) -> dict[str, str | None]:
        """accountNo -> parent's accountNo, for tests and the demo."""
        accounts = self._objects(system, "accounts")
        return {a["accountNo"]: accounts[a["parentPoid"]]["accountNo"] if a.get("parentPoid") else None for a in accounts.values()}
