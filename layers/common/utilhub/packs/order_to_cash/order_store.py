"""Order revisions as OSM posted them, kept where the hub keeps its data.

An order revision carries customers' names, addresses and payment details. It is kept as one item of the
cross-reference table (``ORDER#<orderId>#<revision>``), encrypted with the stack's key like every table,
and the OC-01 workflow carries only the order id and revision: each step reads the order from here, so
no execution's input, output or history holds personal data. An item, not an S3 object: a revision is
at most 256 KB (the limit the intake keeps), under DynamoDB's 400 KB, and one conditional write both keeps
it and refuses other content under the same order id and revision.

Card and bank account numbers (``creditCard.number``, ``bankAccount.accountNumber`` of a line's billing profile) are
never kept readable (PCI DSS 3.5): the revision is kept with each of them masked (zeros and its last 4 digits, so
the kept revision still reads as a valid order) and the number itself encrypted with the stack's key (KMS
``Encrypt``, the item's key as encryption context: a ciphertext read under another revision does not decrypt) in
``payment``, a map by the field's JSON pointer. :meth:`OrderStore.get` decrypts them for the workflow's steps (BRM's
/payinfo needs the number), so a FAILED revision resubmitted sends the whole number again; once the revision
SUCCEEDED, :meth:`OrderStore.erase_payment` removes ``payment``: only the last 4 digits remain.

Revisions of one order apply in order: next to its revisions, an order has a marker of the latest revision
accepted (``ORDER#<orderId>#LATEST``), written in the same transaction as the revision it accepts, on
condition that it names no later revision. A revision older than one accepted is refused (and never kept),
so it can neither start a workflow nor revert what the later revision changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from utilhub.packs.order_to_cash.model import FulfillmentOrderIn

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


KEY_PREFIX = "ORDER#"  # then <orderId>#<revision>, or <orderId>#LATEST for the order's latest revision accepted
LATEST = "LATEST"


class Verdict(StrEnum):
    ACCEPTED = "ACCEPTED"  # kept now, or kept before with the same content
    OTHER_CONTENT = "OTHER_CONTENT"  # the revision is kept with other content
    SUPERSEDED = "SUPERSEDED"  # a later revision of the order was accepted


@dataclass(frozen=True)
class Acceptance:
    verdict: Verdict
    latest: int | None = None  # for SUPERSEDED: the latest revision accepted


# the payment numbers of a line's billing profile: (its object, the number's field)
PAYMENT_NUMBERS = (("creditCard", "number"), ("bankAccount", "accountNumber"))
KEPT_DIGITS = 4


class OrderNotKept(LookupError):
    """A workflow step names an order revision the hub does not hold (it is kept before its workflow starts)."""


class FieldCipher(Protocol):
    def encrypt(self, value: str, context: dict[str, str]) -> str: ...

    def decrypt(self, token: str, context: dict[str, str]) -> str: ...


class KmsFieldCipher:
    """One value encrypted with a KMS key (``Encrypt``: at most 4 KB, a card or account number is a few bytes, so no
    data key is needed), bound to ``context`` (KMS's encryption context); ``key_id`` is needed to encrypt only."""

    def __init__(self, kms: Any, key_id: str | None) -> None:
        self._kms = kms
        self._key_id = key_id

    def encrypt(self, value: str, context: dict[str, str]) -> str:
        if not self._key_id:
            raise RuntimeError("UTILHUB_ORDER_PAYMENT_KEY is not set: payment details cannot be kept")
        blob = self._kms.encrypt(KeyId=self._key_id, Plaintext=value.encode(), EncryptionContext=context)["CiphertextBlob"]
        return base64.b64encode(blob).decode()

    def decrypt(self, token: str, context: dict[str, str]) -> str:
        return str(self._kms.decrypt(CiphertextBlob=base64.b64decode(token), EncryptionContext=context)["Plaintext"].decode())


def masked(value: str) -> str:
    """Only the last 4 characters of ``value`` kept, the others zeros (the field's pattern still holds)."""
    return "0" * max(len(value) - KEPT_DIGITS, 0) + value[-KEPT_DIGITS:]


def _payment_fields(order: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(JSON pointer, the object holding it, its field) of each payment number in ``order`` (a revision as JSON)."""
    found = []
    for index, line in enumerate(order.get("lines", [])):
        profile = line.get("billingProfile") or {}
        for holder, field in PAYMENT_NUMBERS:
            if isinstance(profile.get(holder), dict) and field in profile[holder]:
                found.append((f"/lines/{index}/billingProfile/{holder}/{field}", profile[holder], field))
    return found


def masked_everywhere(value: Any) -> Any:
    """``value`` (JSON data: a step's item, an order) with each payment number it holds, at any depth, masked."""
    if isinstance(value, list):
        return [masked_everywhere(v) for v in value]
    if not isinstance(value, dict):
        return value
    found = {k: masked_everywhere(v) for k, v in value.items()}
    for holder, field in PAYMENT_NUMBERS:
        if isinstance(found.get(holder), dict) and isinstance(found[holder].get(field), str):
            found[holder] = {**found[holder], field: masked(found[holder][field])}
    return found


class Mac(Protocol):
    """A keyed MAC of a message, as text (:class:`KmsMac`)."""

    def __call__(self, message: bytes) -> str: ...

    def __hash__(self) -> int: ...  # a MAC made once per order content and MAC (orders.keyed_fingerprint)


class KmsMac:
    """HMAC-SHA-256 with a KMS HMAC key (``GenerateMac``): the key never leaves KMS, and only the OC-01 intake may use it
    (its policy, packs/order-to-cash.yaml), so a MAC cannot be recomputed over guessed numbers by anyone who reads it."""

    ALGORITHM = "HMAC_SHA_256"

    def __init__(self, kms: Any, key_id: str | None) -> None:
        self._kms = kms
        self._key_id = key_id

    def __call__(self, message: bytes) -> str:
        if not self._key_id:
            raise RuntimeError("UTILHUB_ORDER_FINGERPRINT_KEY is not set: an order's payment numbers cannot be fingerprinted")
        mac = self._kms.generate_mac(KeyId=self._key_id, Message=message, MacAlgorithm=self.ALGORITHM)["Mac"]
        return base64.b64encode(mac).decode()


def fingerprint(content: str, mac: Mac) -> str:
    """What tells one submission of an order revision from another (the intake's idempotency fingerprint, whose SHA-256
    Powertools keeps in the idempotency record) without an unkeyed hash of a payment number, which the last 4 digits
    and the length kept readable would let anyone reading the record brute-force: the revision with every payment
    number masked, and a keyed MAC of the numbers by their JSON pointers (of their SHA-256, so any number of lines
    stays within KMS's 4 KB message). An order with no payment number needs no MAC."""
    numbers = {pointer: str(holder[field]) for pointer, holder, field in _payment_fields(json.loads(content))}
    masked_order = masked_content(content)
    if not numbers:
        return masked_order
    digest = hashlib.sha256(json.dumps(numbers, sort_keys=True, separators=(",", ":")).encode()).digest()
    return json.dumps({"order": masked_order, "paymentMac": mac(digest)}, sort_keys=True, separators=(",", ":"))


def masked_content(content: str) -> str:
    """An order revision's canonical JSON with every payment number masked (what is kept readable)."""
    order = json.loads(content)
    for _, holder, field in _payment_fields(order):
        holder[field] = masked(str(holder[field]))
    return json.dumps(order, sort_keys=True, separators=(",", ":"))


class OrderStore:
    def __init__(self, table: Table, cipher: FieldCipher) -> None:
        self._table = table
        self._cipher = cipher

    def _context(self, order_id: str, revision: int, pointer: str) -> dict[str, str]:
        return {"table": self._table.name, "pk": self._key(order_id, revision)["pk"], "field": pointer}

    def _protected(self, order_id: str, revision: int, content: str) -> tuple[str, dict[str, str]]:
        """The revision as kept: its payment numbers masked, and each encrypted under its pointer."""
        order = json.loads(content)
        payment: dict[str, str] = {}
        for pointer, holder, field in _payment_fields(order):
            payment[pointer] = self._cipher.encrypt(str(holder[field]), self._context(order_id, revision, pointer))
            holder[field] = masked(str(holder[field]))
        return json.dumps(order, sort_keys=True, separators=(",", ":")), payment

    def _revealed(self, item: dict[str, Any]) -> str:
        """A kept revision's JSON with its payment numbers decrypted (masked still, once erased)."""
        order = json.loads(str(item["order"]))
        payment = item.get("payment") or {}
        for pointer, holder, field in _payment_fields(order):
            if pointer in payment:
                context = self._context(str(item["orderId"]), int(str(item["revision"])), pointer)
                holder[field] = self._cipher.decrypt(str(payment[pointer]), context)
        return json.dumps(order, sort_keys=True, separators=(",", ":"))

    @staticmethod
    def _key(order_id: str, revision: int) -> dict[str, str]:
        return {"pk": f"{KEY_PREFIX}{order_id}#{revision}"}

    @staticmethod
    def _latest_key(order_id: str) -> dict[str, str]:
        return {"pk": f"{KEY_PREFIX}{order_id}#{LATEST}"}

    def accept(self, order: FulfillmentOrderIn, content: str) -> Acceptance:
        """Keep the revision's ``content`` (its canonical JSON) and make it the order's latest revision, in one transaction.

        A revision kept before with the same content is accepted again (a retry), whatever came after it; other
        content under a kept revision is refused, and so is a new revision older than the latest accepted.
        """
        now = datetime.now(UTC).isoformat()
        kept_content, payment = self._protected(order.orderId, order.revision, content)
        client = self._table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": {
                                **self._key(order.orderId, order.revision),
                                "orderId": order.orderId,
                                "revision": order.revision,
                                "order": kept_content,
                                **({"payment": payment} if payment else {}),
                                "keptAt": now,
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": {**self._latest_key(order.orderId), "orderId": order.orderId, "latest": order.revision, "at": now},
                            "ConditionExpression": "attribute_not_exists(pk) OR latest <= :revision",
                            "ExpressionAttributeValues": {":revision": order.revision},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" not in reasons:
                raise
            kept = self._kept(order.orderId, order.revision)
            if kept is not None:
                # the same revision again: its numbers compared in full while kept, by their last 4 once erased
                same = self._revealed(kept) == content if kept.get("payment") else kept["order"] == masked_content(content)
                return Acceptance(Verdict.ACCEPTED if same else Verdict.OTHER_CONTENT)
            latest = self.latest(order.orderId)
            if latest is not None and latest > order.revision:
                return Acceptance(Verdict.SUPERSEDED, latest)
            raise  # neither kept nor superseded: a race the caller's retry resolves
        return Acceptance(Verdict.ACCEPTED)

    def _kept(self, order_id: str, revision: int) -> dict[str, Any] | None:
        item = self._table.get_item(Key=self._key(order_id, revision), ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def latest(self, order_id: str) -> int | None:
        """The latest revision of the order accepted, or None when none was."""
        item = self._table.get_item(Key=self._latest_key(order_id), ConsistentRead=True).get("Item")
        return int(str(item["latest"])) if item else None

    def get(self, order_id: str, revision: int) -> FulfillmentOrderIn:
        item = self._table.get_item(Key=self._key(order_id, revision), ConsistentRead=True).get("Item")
        if item is None:
            raise OrderNotKept(f"no order {order_id} revision {revision} is kept")
        return FulfillmentOrderIn.model_validate_json(self._revealed(dict(item)))

    def erase_payment(self, order_id: str, revision: int) -> None:
        """Forget the revision's payment numbers (it SUCCEEDED: never sent again): only their last 4 digits remain."""
        self._table.update_item(
            Key=self._key(order_id, revision), UpdateExpression="REMOVE payment", ConditionExpression="attribute_exists(pk)"
        )
