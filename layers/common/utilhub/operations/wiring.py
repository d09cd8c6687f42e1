"""The operations wiring: what its routes are built from (the dead-letter queues the template names) and the
entry of its handler, named after its folder under ``functions/operations/``."""

from __future__ import annotations

import json

from utilhub.platform import aws, wiring
from utilhub.platform.dead_letters import DeadLetterQueues
from utilhub.platform.journal import Journal
from utilhub.platform.settings import ConfigurationError, get_settings
from utilhub.platform.wiring import Handler, entry, per_process
from utilhub.platform.xref import CrossReferenceStore


@per_process
def dead_letter_queues() -> DeadLetterQueues:
    queues: dict[str, str] = json.loads(get_settings().operations.require("dead_letter_queues"))
    return DeadLetterQueues(aws.sqs(), queues)


@entry
def dead_letters() -> Handler:
    """Every dead-letter queue's depth, and a redrive of one."""
    from utilhub.operations.api import api

    dead_letter_queues()
    return api.resolve


def transactions_journal() -> Journal:
    found = wiring.journal()
    if found is None:
        raise ConfigurationError("UTILHUB_JOURNAL_TABLE is not set for this function")
    return found


@per_process
def cross_references() -> CrossReferenceStore:
    return CrossReferenceStore(aws.table(get_settings().state.require("xref_table")))


def catalogue() -> list[str]:
    """The integration points of the packs deployed (``UTILHUB_CATALOGUE``), in the template's order."""
    return [p.strip() for p in get_settings().operations.catalogue.split(",") if p.strip()]


def xref_entity_types() -> list[str]:
    return [t.strip() for t in get_settings().operations.xref_entity_types.split(",") if t.strip()]


# BRM's own objects, which OC-01 links to Siebel's billing accounts and profiles: looked up, never imported (the
# operators' function may add links under the utility's entity types only, template.yaml).
BILLING_ENTITY_TYPES = frozenset({"account", "billinfo", "payinfo"})


def importable_entity_types() -> list[str]:
    """The entity types the cutover's import may link: the hub's, less BRM's."""
    return [t for t in xref_entity_types() if t not in BILLING_ENTITY_TYPES]


@entry
def transactions() -> Handler:
    """Every pack's transactions: summary, listing, one with its timeline, resubmission, cross-references."""
    from utilhub.operations.transactions_api import api

    transactions_journal()
    cross_references()
    return api.resolve
