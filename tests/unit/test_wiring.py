"""utilhub.platform.wiring: what a function is built from, at init, once per process; reset in one call."""

from __future__ import annotations

import os
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localhub.template import ROOT, Template
from utilhub.platform import wiring
from utilhub.platform.settings import ConfigurationError, get_settings


def template_variables() -> dict[str, set[str]]:
    """Each handler file and the UTILHUB_* variables the template gives its function (the globals' too)."""
    template = Template.load()
    shared = set(template.function_globals.get("Environment", {}).get("Variables", {}))
    found = {}
    for _, resource in template.of_type("AWS::Serverless::Function"):
        properties = resource["Properties"]
        names = shared | set(properties.get("Environment", {}).get("Variables", {}))
        found[str(properties["CodeUri"]).strip("/") + "/app.py"] = {name for name in names if name.startswith("UTILHUB_")}
    return found


def sample_value(variable: str) -> str:
    """A value of the variable's type (the template's are references, resolved only on a stack)."""
    if variable.endswith("_URL"):
        return "https://example.com/endpoint"
    if variable.endswith("_REQUEUES"):
        return "3"
    if variable.endswith(("_SECONDS", "_COUNT", "_DAYS")):
        return "60"
    samples = {
        "UTILHUB_CLIENT_SYSTEMS": "{}",
        "UTILHUB_DEAD_LETTER_QUEUES": "{}",
        "UTILHUB_DACS_NOTIFY_CCB": "true",
        "UTILHUB_JOURNAL_HOPS": "true",
        "UTILHUB_FIELD_WORK_MODEL": "v2.1",
        "UTILHUB_METERS_MANAGED_IN": "CCB",
    }
    return samples.get(variable, variable.removeprefix("UTILHUB_").lower())


HANDLERS = template_variables()


@pytest.fixture
def function_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run a handler file's module code (its import, and so its init) with only ``variables`` set."""

    def run(handler: str, variables: set[str]) -> None:
        for name in [name for name in os.environ if name.startswith("UTILHUB_")]:
            monkeypatch.delenv(name)
        for name in variables:
            monkeypatch.setenv(name, sample_value(name))
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        wiring.reset()
        runpy.run_path(str(ROOT / handler))

    yield run
    wiring.reset()


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_every_function_builds_at_init_from_the_variables_the_template_gives_it(handler: str, function_environment: Any) -> None:
    # Given a function with exactly the variables the template sets for it
    # When its handler is imported (Lambda's init)
    # Then it builds what it needs without asking for any other
    function_environment(handler, HANDLERS[handler])


@pytest.mark.parametrize(
    ("handler", "missing"),
    [
        ("functions/meter_data/sync_monitor/app.py", "UTILHUB_DELIVERY_QUEUE_URL"),
        ("functions/meter_data/sync_delivery/app.py", "UTILHUB_MDM_BASE_URL"),
        ("functions/meter_data/usage_requests/app.py", "UTILHUB_USAGE_REQUEST_QUEUE_URL"),
        ("functions/field_work/activities/app.py", "UTILHUB_FIELD_WORK_STATE_MACHINE_ARN"),
        ("functions/field_work/activity_steps/app.py", "UTILHUB_WAM_BASE_URL"),
        ("functions/customer/siebel_customers/app.py", "UTILHUB_XREF_TABLE"),
        ("functions/dacs/initial_sync/app.py", "UTILHUB_DACS_EXCHANGE_BUCKET"),
        ("functions/order_to_cash/brm_steps/app.py", "UTILHUB_BRM_BASE_URL"),
        ("functions/order_to_cash/fulfillment_orders/app.py", "UTILHUB_ORDER_STATE_MACHINE_ARN"),
        ("functions/operations/dead_letters/app.py", "UTILHUB_DEAD_LETTER_QUEUES"),
    ],
)
def test_a_function_missing_a_setting_it_needs_fails_at_init_naming_the_variable(
    handler: str, missing: str, function_environment: Any
) -> None:
    # Given a function without one of the variables it needs
    assert missing in HANDLERS[handler]
    # When its handler is imported, Then the init fails, naming the variable (not a request, later)
    with pytest.raises(ConfigurationError, match=f"^{missing} is not set"):
        function_environment(handler, HANDLERS[handler] - {missing})


def test_what_is_built_is_kept_until_one_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a builder of something made from the settings
    made: list[str] = []

    @wiring.per_process
    def table_name() -> str:
        made.append(get_settings().state.require("xref_table"))
        return made[-1]

    monkeypatch.setenv("UTILHUB_XREF_TABLE", "first")
    wiring.reset()
    # When it is asked twice, then the variable changes and the wiring is reset
    assert table_name() == table_name() == "first"
    monkeypatch.setenv("UTILHUB_XREF_TABLE", "second")
    assert table_name() == "first"  # the settings are read once per process
    wiring.reset()
    # Then it was built once per reset, from the settings of the time
    assert table_name() == "second"
    assert made == ["first", "second"]
    wiring.reset()


def test_every_handler_of_the_template_is_checked() -> None:
    assert len(HANDLERS) >= 30
    assert all(Path(ROOT / handler).is_file() for handler in HANDLERS)
