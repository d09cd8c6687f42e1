"""The catalogue of functions in template.yaml: every function is a short handler under
functions/<pack>/<point>/, with sample events, a test, and the integration points it serves;
no handler exists that the template does not deploy. Reads files only."""

from __future__ import annotations

import ast
import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localhub.template import ROOT, Template, expand_for_each, load_yaml
from utilhub.platform.wiring import Entry

CODE_URI = re.compile(r"^functions/(?P<pack>[a-z][a-z0-9_]*)/(?P<point>[a-z][a-z0-9_]*)/$")
INTEGRATION_POINT = re.compile(r"^(FW|DA|MD|CU|OC)-\d{2}$")
MAX_HANDLER_LINES = 25
AWS_SDK = {"boto3", "botocore"}
THIS_FILE = Path(__file__).resolve()


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: str
    handler: str
    metadata: dict[str, Any]

    @property
    def location(self) -> re.Match[str] | None:
        return CODE_URI.match(self.code_uri)

    @property
    def directory(self) -> Path:
        return ROOT / self.code_uri

    @property
    def handler_file(self) -> Path:
        return self.directory / "app.py"

    @property
    def module(self) -> str:
        return self.code_uri.strip("/").replace("/", ".") + ".app"


@pytest.fixture(scope="module")
def functions() -> list[Function]:
    template = Template.load()
    default_handler = template.function_globals.get("Handler", "")
    found = [
        Function(
            logical_id=logical_id,
            code_uri=str(resource.get("Properties", {}).get("CodeUri", "")),
            handler=str(resource.get("Properties", {}).get("Handler", default_handler)),
            metadata=resource.get("Metadata", {}),
        )
        for logical_id, resource in template.of_type("AWS::Serverless::Function")
    ]
    assert found, "template.yaml declares no AWS::Serverless::Function"
    return found


def defined_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def test_every_function_is_an_app_module_under_functions_pack_point(functions: list[Function]) -> None:
    # Given the functions of the template
    # When their CodeUri and Handler are checked against the files
    offenders = []
    for function in functions:
        module, _, name = function.handler.rpartition(".")
        if function.location is None:
            offenders.append(f"{function.logical_id}: CodeUri {function.code_uri!r} is not functions/<pack>/<point>/")
        elif module != "app":
            offenders.append(f"{function.logical_id}: Handler {function.handler!r} is not app.<function>")
        elif not function.handler_file.is_file():
            offenders.append(f"{function.logical_id}: {function.handler_file.relative_to(ROOT)} does not exist")
        elif name not in defined_functions(function.handler_file):
            offenders.append(f"{function.logical_id}: {function.handler_file.relative_to(ROOT)} defines no function {name}")

    # Then each is functions/<pack>/<point>/app.py defining the named handler
    assert offenders == [], "functions whose code does not match the template:\n" + "\n".join(offenders)


def test_every_function_has_sample_events_that_are_valid_json(functions: list[Function]) -> None:
    # Given the functions of the template
    # When events/<pack>/<point>/ is read for each
    offenders = []
    for function in functions:
        if function.location is None:
            offenders.append(f"{function.logical_id}: no functions/<pack>/<point>/ CodeUri to find events by")
            continue
        folder = ROOT / "events" / function.location["pack"] / function.location["point"]
        files = sorted(path for path in folder.glob("*") if path.is_file()) if folder.is_dir() else []
        if not files:
            offenders.append(f"{function.logical_id}: {folder.relative_to(ROOT)}/ is missing or empty")
        for path in files:
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                offenders.append(f"{function.logical_id}: {path.relative_to(ROOT)} is not valid JSON ({exc})")

    # Then each has at least one sample event, and every file there is JSON
    assert offenders == [], "functions without valid sample events:\n" + "\n".join(offenders)


def test_every_function_is_named_by_some_test(functions: list[Function]) -> None:
    # Given the text of every test file but this one
    texts = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "tests").rglob("*.py")) if path.resolve() != THIS_FILE]

    # When each function's module or logical id is looked for in them
    offenders = [
        f"{function.logical_id} ({function.module})"
        for function in functions
        if not any(function.module in text or function.logical_id in text for text in texts)
    ]

    # Then every function is exercised by some test
    assert offenders == [], "functions no test names (by module or logical id):\n" + "\n".join(offenders)


def test_no_handler_on_disk_is_left_out_of_the_template(functions: list[Function]) -> None:
    # Given the handler files on disk and the code the template deploys
    on_disk = sorted((ROOT / "functions").glob("*/*/app.py"))
    deployed = {function.handler_file.resolve() for function in functions}

    # When each file is looked up among the deployed ones
    orphans = [str(path.relative_to(ROOT)) for path in on_disk if path.resolve() not in deployed]

    # Then none is an orphan
    assert orphans == [], "handlers no template function deploys:\n" + "\n".join(orphans)


def test_every_function_names_its_integration_points(functions: list[Function]) -> None:
    # Given the functions of the template
    # When Metadata.utilhub.integrationPoints is read for each
    offenders = []
    for function in functions:
        points = function.metadata.get("utilhub", {}).get("integrationPoints")
        if not isinstance(points, list) or not points:
            offenders.append(f"{function.logical_id}: Metadata.utilhub.integrationPoints is missing or empty")
            continue
        wrong = [point for point in points if not isinstance(point, str) or not INTEGRATION_POINT.match(point)]
        if wrong:
            offenders.append(f"{function.logical_id}: {wrong} do not match {INTEGRATION_POINT.pattern}")

    # Then each lists at least one, all of the form FW|DA|MD|CU|OC-nn
    assert offenders == [], "functions without valid integration points:\n" + "\n".join(offenders)


def test_handlers_are_short_and_call_the_library_only(functions: list[Function]) -> None:
    # Given the handler files of the template's functions
    files = sorted({function.handler_file for function in functions if function.handler_file.is_file()})
    assert files, "no handler file found"

    # When their length and imports are checked
    offenders = []
    for path in files:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(lines) > MAX_HANDLER_LINES:
            offenders.append(f"{path.relative_to(ROOT)}: {len(lines)} non-blank lines (at most {MAX_HANDLER_LINES})")
        sdk = sorted(imported_modules(path) & AWS_SDK)
        if sdk:
            offenders.append(f"{path.relative_to(ROOT)}: imports {', '.join(sdk)} (handlers call the library only)")

    # Then each is at most 25 non-blank lines and imports no AWS SDK
    assert offenders == [], "handlers that do more than call the library:\n" + "\n".join(offenders)


def wiring_module(pack: str) -> str:
    """Where a handler's code is: its pack's wiring (the platform's operations and sync engine have theirs too)."""
    platform = {"operations": "utilhub.operations.wiring", "sync_requests": "utilhub.syncrequests.wiring"}
    return platform.get(pack, f"utilhub.packs.{pack}.wiring")


def library_imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every ``from utilhub... import ...`` and ``import utilhub...`` of a module, in order."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "utilhub":
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.split(".")[0] == "utilhub"]
    return found


def test_every_handler_imports_exactly_its_packs_wiring_entry_named_after_its_folder(functions: list[Function]) -> None:
    # Given each handler and where its code must be: functions/<pack>/<folder>/app.py -> <pack's wiring>.<folder>
    offenders = []
    for function in functions:
        location = function.location
        if location is None or not function.handler_file.is_file():
            continue  # another test names it
        expected = (wiring_module(location["pack"]), [location["point"]])
        # When its imports of the library are read (observability's decorators apart)
        imports = [found for found in library_imports(function.handler_file) if found[0] != "utilhub.platform.observability"]
        # Then it imports one name, the entry named after its folder, from its pack's wiring, and that entry exists
        if imports != [expected]:
            offenders.append(f"{function.code_uri}app.py imports {imports}, not {expected[0]}.{expected[1][0]}")
            continue
        module = importlib.import_module(expected[0])
        if not isinstance(getattr(module, location["point"], None), Entry):
            offenders.append(f"{expected[0]} has no entry {location['point']}")
    assert offenders == [], "handlers whose code is not their pack's wiring entry:\n" + "\n".join(offenders)


AWS_CLIENT_CALLS = {"client", "table", "sqs", "session"}  # utilhub.platform.aws's constructors of clients


def builds_aws_clients(path: Path) -> list[str]:
    """The lines of ``path`` that build an AWS client: ``aws.client(...)`` and the like, or boto3 directly."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            owner, name = node.func.value.id, node.func.attr
            if (owner == "aws" and name in AWS_CLIENT_CALLS) or owner == "boto3":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {owner}.{name}(...)")
        elif isinstance(node, ast.Import) and any(alias.name == "boto3" for alias in node.names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} import boto3")
    return found


def test_no_module_outside_the_wiring_builds_an_aws_client() -> None:
    # Given every module of the library but the wiring modules and platform/aws.py (where clients are made)
    library = ROOT / "layers" / "common" / "utilhub"
    modules = [path for path in sorted(library.rglob("*.py")) if path.name != "wiring.py" and path != library / "platform" / "aws.py"]
    assert len(modules) > 50
    # When their calls are read
    offenders = [line for path in modules for line in builds_aws_clients(path)]
    # Then none builds a client: the wiring builds them and hands them over
    assert offenders == [], "AWS clients built outside the wiring:\n" + "\n".join(offenders)


def test_test_modules_have_basenames_of_their_own() -> None:
    # Given every test module under tests/ (pytest imports them by basename: two of one name cannot both be collected)
    modules = sorted((ROOT / "tests").rglob("test_*.py"))

    # When they are grouped by basename
    by_name: dict[str, list[str]] = {}
    for module in modules:
        by_name.setdefault(module.name, []).append(str(module.relative_to(ROOT)))

    # Then no two share one
    assert modules
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}


def test_the_catalogue_the_operations_summary_lists_is_each_packs_functions_points() -> None:
    # Given the root template's Catalogue mapping (what UTILHUB_CATALOGUE is built from) and each pack's template
    root = load_yaml((ROOT / "template.yaml").read_text(encoding="utf-8"))
    catalogue = root["Mappings"]["Catalogue"]
    packs = {
        logical_id.removesuffix("Pack"): ROOT / resource["Properties"]["Location"]
        for logical_id, resource in root["Resources"].items()
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Application"
    }

    # When each pack's functions' integration points are gathered
    named = {}
    for pack, location in packs.items():
        body = expand_for_each(load_yaml(location.read_text(encoding="utf-8")))
        named[pack] = sorted(
            {
                point
                for resource in body["Resources"].values()
                if resource.get("Type") == "AWS::Serverless::Function"
                for point in resource.get("Metadata", {}).get("utilhub", {}).get("integrationPoints", [])
            }
        )

    # Then the Catalogue has one row per pack, listing exactly those points
    assert {pack: sorted(row["Points"].split(",")) for pack, row in catalogue.items()} == named
