"""MD-21 navigation links (utilhub.packs.meter_data.links): the shipped templates cover the links of Oracle's CCB-MDM integration,
ids are URL-quoted so nothing in them leaves its query value, templates are validated, and a deployment's
override replaces the entity types it names and keeps the others. Pure: no AWS."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from utilhub.packs.meter_data.links import _templates, navigation_links, parse_templates, shipped_templates
from utilhub.platform.problems import Problem


def rels(entity_type: str) -> list[str]:
    return [link["rel"] for link in navigation_links(entity_type, "X-1")["links"]]


def test_the_shipped_templates_hold_the_links_of_seed_002() -> None:
    # Given the shipped templates
    # When the links of each entity type are asked for
    # Then CCB's person, SA, SP, usage request and meter lead to MDM's contact, usage subscription and 360 view,
    # SP, usage transaction and device, and MDM's SP leads to CCB's control central
    assert rels("PERSON") == ["mdm-contact"]
    assert rels("SERVICE_AGREEMENT") == ["mdm-usage-subscription", "mdm-360-view"]
    assert rels("SERVICE_POINT") == ["mdm-service-point"]
    assert rels("USAGE_REQUEST") == ["mdm-usage-transaction"]
    assert rels("METER") == ["mdm-device"]
    assert rels("MDM_SERVICE_POINT") == ["ccb-control-central"]


@pytest.mark.parametrize("hostile", ["SA-1&script=evil", "a/../../admin", "x#frag", "1 2", "ü'\"<script>", "%2F", "?entityId=1"])
def test_a_hostile_id_stays_inside_its_query_value(hostile: str) -> None:
    # Given an id that would break out of the URL if pasted raw
    # When the SA's links are made for it
    links = navigation_links("SERVICE_AGREEMENT", hostile)["links"]

    # Then each link keeps its host, path and parameters, and the id comes back whole as one parameter's value
    for link in links:
        parts = urlsplit(link["href"])
        assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "mdm.example.com", "/ouaf/cis.jsp", "")
        query = parse_qs(parts.query)
        assert sorted(query) in (["externalId", "script"], ["script", "usageSubscriptionExternalId"])
        assert hostile in [v[0] for v in query.values()]


@pytest.mark.parametrize(
    ("entity_type", "entity_id", "pointers"),
    [
        ("ACCOUNT", "A-1", ["#/entityType"]),
        (None, "A-1", ["#/entityType"]),
        ("PERSON", None, ["#/entityId"]),
        ("PERSON", "line\nbreak", ["#/entityId"]),
        ("PERSON", "x" * 255, ["#/entityId"]),
        ("nope", "", ["#/entityType", "#/entityId"]),
    ],
)
def test_an_unknown_entity_type_or_a_bad_id_is_422_naming_the_field(
    entity_type: str | None, entity_id: str | None, pointers: list[str]
) -> None:
    # Given a query with an unknown entity type or a missing or bad id
    # When its links are asked for
    with pytest.raises(Problem) as raised:
        navigation_links(entity_type, entity_id)

    # Then it is a 422 naming each bad field
    assert raised.value.status == 422
    assert [e.pointer for e in raised.value.errors] == pointers


def test_an_override_replaces_the_entity_types_it_names_and_keeps_the_others() -> None:
    # Given an override of the person's links with this deployment's MDM host
    override = {"entityTypes": {"PERSON": [{"rel": "mdm-contact", "href": "https://mdm.utility.test/ui/contact?ext={id}"}]}}

    # When the templates are read with it
    templates = _templates(json.dumps(override))

    # Then the person's link is the deployment's, and the other entity types are the shipped ones
    assert templates.entityTypes["PERSON"][0].link("P 1") == {"rel": "mdm-contact", "href": "https://mdm.utility.test/ui/contact?ext=P%201"}
    assert templates.entityTypes["METER"] == shipped_templates().entityTypes["METER"]


@pytest.mark.parametrize(
    "href",
    [
        "https://mdm.test/contact",  # no {id}
        "https://mdm.test/{id}/{id}",  # twice
        "javascript:alert({id})",  # not http(s)
        "https://{id}.test/contact",  # the id would choose the host
        "/relative?id={id}",  # not absolute
    ],
)
def test_an_override_with_a_bad_template_is_refused(href: str) -> None:
    # Given an override whose template could not hold the id safely
    text = json.dumps({"entityTypes": {"PERSON": [{"rel": "mdm-contact", "href": href}]}})

    # When it is parsed
    # Then it is refused, naming where it came from
    with pytest.raises(ValueError, match="the links parameter is not a valid set of navigation link templates"):
        parse_templates(text, "the links parameter")
