"""OC-01's keyed fingerprint (packs/order_to_cash/orders.py): the intake's record and the Idempotency-Key header's ask
for it for the same order; KMS is asked once."""

from __future__ import annotations

import json

from utilhub.packs.order_to_cash.orders import _keyed_fingerprint


class CountingMac:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, message: bytes) -> str:
        self.calls += 1
        return f"mac-{len(message)}"


def test_one_order_is_maced_once_for_both_of_its_idempotency_records_and_again_under_a_new_key() -> None:
    content = json.dumps({"orderId": "O-1", "lines": [{"billingProfile": {"creditCard": {"number": "4111111111111111"}}}]})
    mac = CountingMac()
    first, second = _keyed_fingerprint(content, mac), _keyed_fingerprint(content, mac)
    assert first == second
    assert mac.calls == 1
    assert "4111111111111111" not in first
    other = CountingMac()  # the settings reloaded: another MAC client, maybe another key
    _keyed_fingerprint(content, other)
    assert other.calls == 1
