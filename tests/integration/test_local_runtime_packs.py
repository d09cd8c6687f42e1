"""The packs are deployable units: ``Packs`` (``make run ARGS="--parameter-overrides Packs=meter-data,customer"``)
chooses the nested applications of template.yaml the hub deploys, and a pack left out has no function, queue,
table, bucket or route here, as it has none on AWS. What a pack holds is read from its own template
(``packs/<pack>.yaml``), never listed here."""

from __future__ import annotations

import re

import pytest

from localhub.aws.endpoint import reset
from localhub.hub import LocalHub
from localhub.template import ROOT, expand_for_each, load_yaml

PACKS = ("meter-data", "customer", "field-work", "dacs", "order-to-cash")
GATEWAY_NOT_FOUND = b'{"message":"Not Found"}'


def pack_resources(pack: str) -> set[str]:
    """The logical ids the pack's own template declares (its loops expanded)."""
    body = expand_for_each(load_yaml((ROOT / "packs" / f"{pack}.yaml").read_text(encoding="utf-8")))
    return set(body["Resources"])


def pack_routes(pack: str) -> list[tuple[str, str]]:
    """(method, path) of every route of the pack's template, a path parameter given a value."""
    body = load_yaml((ROOT / "packs" / f"{pack}.yaml").read_text(encoding="utf-8"))
    keys = [str(row["Key"]).split(" ", 1) for row in body["Mappings"]["Routes"].values()]
    return [(method, re.sub(r"\{[^}]+\}", "x1", path)) for method, path in keys]


@pytest.mark.parametrize("chosen", [(pack,) for pack in PACKS] + [("meter-data", "customer")], ids=",".join)
def test_the_hub_deploys_only_the_packs_chosen(aws_endpoint: str, chosen: tuple[str, ...]) -> None:
    reset(aws_endpoint)
    # When the hub starts with Packs naming only these packs
    hub = LocalHub(simulators={}, parameters={"Packs": ",".join(chosen)}).start()
    try:
        resources = set(hub.resources())
        folders = {spec.code_uri.split("/")[1] for spec in hub.functions()}
        for pack in PACKS:
            routes = pack_routes(pack)
            answers = [hub.call_api(method, path).body for method, path in routes]
            if pack in chosen:
                # Then a chosen pack's resources are there (none of its template is missing) and its routes answer
                assert pack_resources(pack) <= resources, f"{pack}: {sorted(pack_resources(pack) - resources)}"
                assert pack.replace("-", "_") in folders
                assert GATEWAY_NOT_FOUND not in answers, f"{pack}: a route of the pack is not served"
            else:
                # And a pack left out has none of its functions, queues, tables, buckets or routes
                assert pack_resources(pack) & resources == set(), f"{pack} is deployed though not chosen"
                assert pack.replace("-", "_") not in folders
                assert set(answers) == {GATEWAY_NOT_FOUND}, f"{pack}: a route is served though the pack is not chosen"
        # And the operators' dead-letter function is there exactly when a chosen pack has queues
        queued = any(resources & {name for name in pack_resources(pack) if name.endswith("DeadLetterQueue")} for pack in chosen)
        code = {spec.code_uri.rstrip("/") for spec in hub.functions()}
        assert ("functions/operations/dead_letters" in code) is queued
        # And the operators' view of transactions (the journal) is there whatever the packs
        assert "functions/operations/transactions" in code
    finally:
        assert hub.stop() == []
