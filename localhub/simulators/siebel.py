"""Siebel Energy simulator, as the customer master and the source of CU-01 and CU-02.

Siebel keeps accounts: ``PUT /accounts/{id}`` with an account (validated against Siebel's own contract,
:mod:`localhub.simulators.siebel_contract`, its lists of values and column lengths; the path gives its id)
creates or changes one. A new account is a prospect:
nothing is sent. A change to a known account is sent to the hub at once as an account update
(``POST /customer/siebel/accounts/{id}/updates``) carrying only the parts that changed, with the time
Siebel changed them; the hub decides whether the customer is synchronized. ``POST /orders``
``{"orderId","lines":[{"lineId","accountId"}]}`` submits an order whose lines bill to kept accounts:
the hub receives it (``POST /customer/siebel/orders``), and Siebel answers with what the hub said.
``?format=xml`` sends Siebel XML (the integration objects of ``siebel/customer.xsd``, written by the contract
module) instead of JSON. The sender is given by the
runtime: over HTTP with a token in ``make run``, in-process in tests.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pydantic import ValidationError

from localhub.simulators.base import Reply, Simulator, SimulatorError, json_reply
from localhub.simulators.ccb import HubSender
from localhub.simulators.siebel_contract import PARTS, Account, write_account_update, write_order

# Accounts Siebel had when Oracle's packs synchronized them to CCB, before the cutover to the hub (CCB's simulator holds
# their customers, events/xref_export_sample.csv their cross-references): a change to one is sent as an update.
BEFORE_CUTOVER: tuple[dict[str, Any], ...] = (
    {
        "id": "1-ABC123",
        "name": "Katherine Johnson",
        "address": {"type": "Billing", "line1": "4 Langley Boulevard", "city": "Hampton", "state": "VA", "country": "USA"},
        "contact": {"firstName": "Katherine", "lastName": "Johnson", "emailAddress": "katherine.johnson@example.com"},
        "billingProfile": {
            "id": "1-ABC123-BP",
            "paymentMethod": "Direct Debit",
            "billRoute": "Email",
            "billCycleDay": 12,
            "currency": "USD",
        },
    },
    {
        "id": "1-DEF456",
        "name": "Dorothy Vaughan",
        "address": {"type": "Billing", "line1": "9 Computing Lane", "city": "Hampton", "state": "VA", "country": "USA"},
        "billingProfile": {"id": "1-DEF456-BP", "paymentMethod": "Invoice", "billRoute": "Postal"},
    },
)


class SiebelSimulator(Simulator):
    def __init__(self) -> None:
        super().__init__(system="SEBL")
        self._ids = itertools.count(1)
        self.send_to_hub: HubSender | None = None
        for account in BEFORE_CUTOVER:
            self.records[f"ACCOUNT#{account['id']}"] = Account.model_validate(account).model_dump(mode="json", exclude_none=True)

    def requires_credentials(self, path: str) -> bool:
        return False  # the hub calls nothing in Siebel: every route is Siebel's own users'

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        xml = parse_qs(url.query).get("format", ["json"])[0] == "xml"
        if method == "PUT" and len(parts) == 2 and parts[0] == "accounts":
            return self.change_account(unquote(parts[1]), body, xml=xml)
        if method == "GET" and len(parts) == 2 and parts[0] == "accounts":
            account = self.records.get(f"ACCOUNT#{unquote(parts[1])}")
            return json_reply(200, account) if account else json_reply(404, {"message": "no such account"})
        if method == "POST" and parts == ["orders"]:
            return self.submit_order(body, xml=xml)
        return json_reply(404, {"message": "no such Siebel service"})

    def _send(self, path: str, body: bytes, content_type: str) -> tuple[int, Any]:
        if self.send_to_hub is None:
            raise SimulatorError("Siebel is not connected to a hub")
        status, answer = self.send_to_hub(path, body, content_type)
        return status, json.loads(answer or b"null")

    def change_account(self, account_id: str, body: bytes, *, xml: bool = False) -> Reply:
        try:
            raw = json.loads(body)
            account = Account.model_validate({**raw, "id": account_id} if isinstance(raw, dict) else raw)
        except (ValueError, ValidationError) as exc:
            raise SimulatorError(f"invalid account: {exc}") from None
        new = account.model_dump(mode="json", exclude_none=True)
        with self._lock:
            old = self.records.get(f"ACCOUNT#{account_id}")
            self.records[f"ACCOUNT#{account_id}"] = new
        if old is None:
            return json_reply(201, {"accountId": account_id, "sent": False, "reason": "a new account (a prospect) is not sent"})
        changed = {part: new[part] for part in PARTS if new.get(part) != old.get(part) and part in new}
        if not changed:
            return json_reply(200, {"accountId": account_id, "sent": False, "reason": "nothing changed"})
        update = {"updateId": f"SEBL-UPD-{next(self._ids):06d}", "changedAt": datetime.now(UTC).isoformat(), **changed}
        path = f"/customer/siebel/accounts/{quote(account_id, safe='')}/updates"
        if xml:
            status, answer = self._send(path, write_account_update(account_id, update, update["updateId"]), "application/xml")
        else:
            status, answer = self._send(path, json.dumps(update).encode(), "application/json")
        self.note_received({"kind": "update", "accountId": account_id, "updateId": update["updateId"], "hubStatus": status})
        return json_reply(
            200 if status < 400 else 502,
            {"accountId": account_id, "sent": True, "update": update, "hubStatus": status, "hubAnswer": answer},
        )

    def submit_order(self, body: bytes, *, xml: bool = False) -> Reply:
        try:
            request = json.loads(body)
            lines = [{"lineId": str(line["lineId"]), "accountId": str(line["accountId"])} for line in request["lines"]]
            order_id = str(request["orderId"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SimulatorError(f'send {{"orderId", "lines": [{{"lineId", "accountId"}}]}}: {exc}') from None
        with self._lock:
            missing = [line["accountId"] for line in lines if f"ACCOUNT#{line['accountId']}" not in self.records]
            if missing:
                raise SimulatorError(f"no such account: {', '.join(missing)}")
            order = {
                "orderId": order_id,
                "submittedAt": datetime.now(UTC).isoformat(),
                "lines": [{"lineId": line["lineId"], "billingAccount": self.records[f"ACCOUNT#{line['accountId']}"]} for line in lines],
            }
        if xml:
            status, answer = self._send("/customer/siebel/orders", write_order(order, f"SEBL-MSG-{next(self._ids):06d}"), "application/xml")
        else:
            status, answer = self._send("/customer/siebel/orders", json.dumps(order).encode(), "application/json")
        self.note_received({"kind": "order", "orderId": order_id, "hubStatus": status})
        return json_reply(200 if status < 400 else 502, {"orderId": order_id, "hubStatus": status, "hubAnswer": answer})
