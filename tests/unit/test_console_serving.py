"""The local runtime serves the web console (localhub.server, ``/console``): its files as they are with their content
types, a config.json naming the local operators' client, nothing outside console/. In-process (werkzeug's test
client): no socket, the runtime not started."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from werkzeug.test import Client

from localhub.server import CONSOLE_DIRECTORY, LocalRuntime


@pytest.fixture
def browser() -> Iterator[Client]:
    runtime = LocalRuntime(api_port=0)
    yield Client(runtime)
    runtime.stop(wait=0)


def test_the_console_is_served_at_console_with_its_content_types(browser: Client) -> None:
    # When a browser opens /console, then each of its files
    opened = browser.get("/console")
    index = browser.get("/console/")
    script = browser.get("/console/app.js")
    style = browser.get("/console/console.css")

    # Then /console leads to /console/, which is index.html, and each file comes as it is with its type
    assert (opened.status_code, opened.headers["Location"]) == (302, "/console/")
    assert (index.status_code, index.mimetype) == (200, "text/html")
    assert index.data == (CONSOLE_DIRECTORY / "index.html").read_bytes()
    assert (script.status_code, script.mimetype) == (200, "text/javascript")  # a module script needs a JavaScript type
    assert script.data == (CONSOLE_DIRECTORY / "app.js").read_bytes()
    assert (style.status_code, style.mimetype) == (200, "text/css")


def test_the_local_config_names_the_operators_client_of_the_template(browser: Client) -> None:
    answer = browser.get("/console/config.json")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json == {
        "mode": "local",
        "apiUrl": "",
        "tokenUrl": "/oauth2/token",
        "clientId": "ops",
        "clientSecret": "ops-local-secret",
    }


@pytest.mark.parametrize(
    "path", ["/console/../template.yaml", "/console/%2e%2e/template.yaml", "/console/nothing.js", "/console/..%2Fpyproject.toml"]
)
def test_nothing_outside_the_console_folder_is_served(browser: Client, path: str) -> None:
    answer = browser.get(path)
    assert answer.status_code == 404, answer.data[:200]
    assert b"AWSTemplateFormatVersion" not in answer.data
