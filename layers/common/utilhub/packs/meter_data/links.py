"""MD-21 navigation links: deep links between CCB and MDM objects, from URL templates kept as configuration.

Oracle's CCB-MDM integration: from CCB's person, SA, SP, usage request and meter into MDM's contact, usage subscription, SP,
usage transaction and device; from CCB's SA to MDM's 360 view; from MDM's SP to CCB's control central
(account information). Each entity type has a list of ``{"rel", "href"}`` templates whose ``{id}`` is replaced
by the entity's id, URL-quoted (nothing in an id can leave its query value or path segment).

The templates ship with the library (``navigation_links.json``, placeholder hosts). A deployment sets its own
without code: the SSM parameter named by ``UTILHUB_METER_DATA_LINKS_PARAMETER`` holds
``{"entityTypes": {...}}``; each entity type it names replaces the shipped one, the others stay (as the
domain value maps do). Read with Powertools Parameters, cached for ``domain_value_maps_max_age_seconds``.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from utilhub.platform import problems
from utilhub.platform.configuration import override_text
from utilhub.platform.settings import get_settings

SHIPPED = "navigation_links.json"
PLACEHOLDER = "{id}"
ENTITY_TYPE = r"^[A-Z][A-Z_]{0,39}$"
MAX_ID = 254


class LinkTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rel: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")
    href: str = Field(max_length=2000)

    @field_validator("href")
    @classmethod
    def _absolute_with_placeholder(cls, value: str) -> str:
        parts = urlsplit(value.replace(PLACEHOLDER, "x"))
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        if value.count(PLACEHOLDER) != 1 or value.index(PLACEHOLDER) < len(f"{parts.scheme}://{parts.netloc}"):
            raise ValueError(f"must hold {PLACEHOLDER} once, after the host")
        return value

    def link(self, entity_id: str) -> dict[str, str]:
        return {"rel": self.rel, "href": self.href.replace(PLACEHOLDER, quote(entity_id, safe=""))}


class LinkTemplates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    entityTypes: dict[Annotated[str, Field(pattern=ENTITY_TYPE)], tuple[LinkTemplate, ...]] = Field(min_length=1)


def parse_templates(text: str, origin: str) -> LinkTemplates:
    try:
        return LinkTemplates.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ValueError(f"{origin} is not a valid set of navigation link templates: {exc}") from None


@cache
def shipped_templates() -> LinkTemplates:
    return parse_templates(resources.files("utilhub.packs.meter_data").joinpath(SHIPPED).read_text(encoding="utf-8"), SHIPPED)


@lru_cache(maxsize=4)
def _templates(override: str) -> LinkTemplates:
    shipped = shipped_templates()
    if not override:
        return shipped
    replaced = parse_templates(override, "the navigation links parameter")
    return LinkTemplates(
        description=replaced.description or shipped.description, entityTypes={**shipped.entityTypes, **replaced.entityTypes}
    )


def link_templates() -> LinkTemplates:
    settings = get_settings()
    return _templates(override_text(settings.meter_data.meter_data_links_parameter, settings.dvm.domain_value_maps_max_age_seconds))


def navigation_links(entity_type: str | None, entity_id: str | None) -> dict[str, Any]:
    """``{"entityType", "entityId", "links": [{"rel", "href"}]}``; a 422 naming the query field otherwise."""
    templates = link_templates().entityTypes
    errors = []
    if not entity_type:
        errors.append(problems.FieldError("#/entityType", "required"))
    elif entity_type not in templates:
        errors.append(problems.FieldError("#/entityType", f"no links for {entity_type[:40]!r}; one of {', '.join(sorted(templates))}"))
    if not entity_id:
        errors.append(problems.FieldError("#/entityId", "required"))
    elif len(entity_id) > MAX_ID or any(ord(c) < 32 or ord(c) == 127 for c in entity_id):
        errors.append(problems.FieldError("#/entityId", f"at most {MAX_ID} characters, no control characters"))
    if errors or not entity_type or not entity_id:
        raise problems.invalid("The query needs a known entityType and an entityId.", errors)
    return {"entityType": entity_type, "entityId": entity_id, "links": [t.link(entity_id) for t in templates[entity_type]]}
