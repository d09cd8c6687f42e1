"""utilhub.platform.identity: the caller's client and the systems it may act as, from UTILHUB_CLIENT_SYSTEMS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from utilhub.platform import identity, wiring
from utilhub.platform.problems import Problem
from utilhub.platform.settings import ConfigurationError

MAPPING = '{"c-mwm": ["MWM"], "c-odm": ["ODM"], "c-ops": [], "local-dev": ["*"]}'


@pytest.fixture
def mapping(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("UTILHUB_CLIENT_SYSTEMS", MAPPING)
    wiring.reset()
    yield
    monkeypatch.delenv("UTILHUB_CLIENT_SYSTEMS")
    wiring.reset()


@pytest.mark.usefixtures("mapping")
def test_a_client_acts_as_its_own_system_only() -> None:
    identity.require_acting_as({"client_id": "c-odm"}, "ODM")
    with pytest.raises(Problem) as refused:
        identity.require_acting_as({"client_id": "c-mwm"}, "ODM")
    assert refused.value.status == 403
    assert refused.value.as_dict()["claimedSystem"] == "ODM"
    assert "ODM" in refused.value.detail
    with pytest.raises(Problem):
        identity.require_acting_as({"client_id": "c-ops"}, "CCB")  # the operators act as no system


@pytest.mark.usefixtures("mapping")
def test_a_client_mapped_to_any_system_acts_as_each_and_an_unmapped_one_as_none() -> None:
    identity.require_acting_as({"client_id": "local-dev"}, "CCB")
    for claims in ({"client_id": "stranger"}, {}):
        with pytest.raises(Problem) as refused:
            identity.caller(claims)
        assert (refused.value.status, refused.value.slug) == (403, "unknown-client")


@pytest.mark.parametrize("text", ["not json", '["CCB"]', '{"c": "CCB"}', '{"c": [1]}'])
def test_a_malformed_mapping_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match="UTILHUB_CLIENT_SYSTEMS"):
        identity.parse_client_systems(text)


def test_without_a_mapping_no_client_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UTILHUB_CLIENT_SYSTEMS", raising=False)
    wiring.reset()
    with pytest.raises(ConfigurationError, match="UTILHUB_CLIENT_SYSTEMS"):
        identity.caller({"client_id": "c-odm"})
