"""utilhub.platform.settings: the settings by concern, each field still its ``UTILHUB_*`` variable."""

from __future__ import annotations

import re

import pytest

from localhub.template import Template
from utilhub.platform.settings import CONCERNS, SYSTEMS, ConfigurationError, Settings


def template_variables() -> set[str]:
    template = Template.load()
    variables = set(template.function_globals.get("Environment", {}).get("Variables", {}))
    for _, resource in template.of_type("AWS::Serverless::Function"):
        variables |= set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    return {name for name in variables if name.startswith("UTILHUB_")}


def settings_variables() -> set[str]:
    names = {"UTILHUB_STAGE"}
    for concern in CONCERNS.values():
        names |= {f"UTILHUB_{field.upper()}" for field in concern.model_fields if field not in SYSTEMS}
    names |= {f"UTILHUB_{system.upper()}_{what}" for system in SYSTEMS for what in ("BASE_URL", "SECRET_ARN")}
    return names


def test_every_variable_the_template_sets_is_a_setting_of_some_concern() -> None:
    # Given the UTILHUB_* variables the template gives its functions, and those the concerns read
    # Then every one the template sets is read by a concern (a renamed field would silently drop one)
    assert template_variables() - settings_variables() == set()


def test_no_field_belongs_to_two_concerns() -> None:
    # Given every concern's fields
    seen: dict[str, str] = {}
    doubled = []
    for name, concern in CONCERNS.items():
        for field in concern.model_fields:
            if field in seen:
                doubled.append(f"{field}: {seen[field]} and {name}")
            seen[field] = name
    # Then each fact has one home
    assert doubled == []


def test_the_environment_is_read_into_its_concerns(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function's variables, flat as the template sets them
    monkeypatch.setenv("UTILHUB_XREF_TABLE", "xref")
    monkeypatch.setenv("UTILHUB_SYNC_ACK_TIMEOUT_SECONDS", "60")
    monkeypatch.setenv("UTILHUB_MDM_BASE_URL", "https://mdm.example")
    monkeypatch.setenv("UTILHUB_MDM_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mdm")
    monkeypatch.setenv("UTILHUB_DACS_NOTIFY_CCB", "true")
    monkeypatch.setenv("UTILHUB_FIELD_WORK_MODEL", "v1.9")
    # When the settings are read
    settings = Settings()
    # Then each value is typed, in its concern
    assert settings.state.xref_table == "xref"
    assert settings.sync.sync_ack_timeout_seconds == 60
    mdm = settings.connectors.of("MDM")
    assert (mdm.system, mdm.base_url, mdm.secret_arn) == (
        "MDM",
        "https://mdm.example",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mdm",
    )
    assert settings.connectors.of("ccb").base_url is None
    assert settings.dacs.dacs_notify_ccb is True
    assert settings.field_work.field_work_model == "v1.9"


def test_a_missing_setting_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no xref table and no BRM base URL
    monkeypatch.delenv("UTILHUB_XREF_TABLE", raising=False)
    monkeypatch.delenv("UTILHUB_BRM_BASE_URL", raising=False)
    settings = Settings()
    # Then requiring them names the variables the template sets
    with pytest.raises(ConfigurationError, match=re.escape("UTILHUB_XREF_TABLE is not set")):
        settings.state.require("xref_table")
    with pytest.raises(ConfigurationError, match=re.escape("UTILHUB_BRM_BASE_URL is not set")):
        settings.connectors.of("BRM").require_base_url()


def test_an_invalid_value_is_refused_with_its_concern(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a shard count out of range
    monkeypatch.setenv("UTILHUB_SYNC_REQUEST_SHARDS", "0")
    # Then reading the settings fails, naming the field
    with pytest.raises(ValueError, match="sync_request_shards"):
        Settings()
