"""Each simulator listed here validates what the hub sends (or writes what it sends the hub) against its application's
own contract, never the hub's message models: a mapping error those models accept would otherwise pass every test.
Add a simulator to ``OWN_CONTRACT`` once its contract is its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# simulator module -> the module holding its application's own contract
OWN_CONTRACT = {
    "localhub/simulators/brm.py": "localhub/simulators/brm_contract.py",
    "localhub/simulators/ccb.py": "localhub/simulators/ccb_contract.py",
    "localhub/simulators/ccb_billing.py": "localhub/simulators/ccb_contract.py",
    "localhub/simulators/dacs.py": "localhub/simulators/dacs_contract.py",
    "localhub/simulators/field.py": "localhub/simulators/field_contract.py",
    "localhub/simulators/mdm.py": "localhub/simulators/mdm_contract.py",
    "localhub/simulators/siebel.py": "localhub/simulators/siebel_contract.py",
}
# where the hub's message models live, and its domain value maps: a simulator importing from these validates with the
# hub's own eyes (one that takes its code table from a map's column accepts whatever a wrong row of the map sends)
HUB_MESSAGE_MODELS = ("utilhub.packs", "utilhub.syncrequests", "utilhub.platform.dvm")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def hub_models_imported(path: Path) -> list[str]:
    return [name for name in imported_modules(path) if name.startswith(HUB_MESSAGE_MODELS)]


@pytest.mark.parametrize("module", sorted({m for pair in OWN_CONTRACT.items() for m in pair}))
def test_a_simulator_and_its_contract_import_no_hub_message_model(module: str) -> None:
    assert hub_models_imported(ROOT / module) == []


def test_no_simulator_module_imports_a_hub_message_model() -> None:
    # every module of the simulators, listed above or not (a new simulator, a helper module), judges with its own eyes
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "localhub" / "simulators").glob("*.py"))
    assert "localhub/simulators/mdm_usage.py" in modules
    assert {m: hub_models_imported(ROOT / m) for m in modules if hub_models_imported(ROOT / m)} == {}


@pytest.mark.parametrize(("simulator", "contract"), sorted(OWN_CONTRACT.items()))
def test_a_simulator_validates_with_its_own_contract_module(simulator: str, contract: str) -> None:
    dotted = contract.removesuffix(".py").replace("/", ".")
    assert dotted in imported_modules(ROOT / simulator)


def test_the_check_finds_a_hub_model_imported_anywhere_in_a_module(tmp_path: Path) -> None:
    # Given a module that imports a hub model inside a function, and one that imports only the platform
    hidden = tmp_path / "hidden.py"
    hidden.write_text(
        "def handle():\n    from utilhub.packs.order_to_cash.brm import BrmAccountIn\n    import utilhub.syncrequests.model\n"
    )
    platform = tmp_path / "platform.py"
    platform.write_text("from utilhub.platform.xml import validate\n")
    maps = tmp_path / "maps.py"
    maps.write_text("from utilhub.platform.dvm import shipped_maps\n")
    # Then the first is caught, both imports named, and so is the hub's maps; the XML helpers are not
    assert hub_models_imported(hidden) == ["utilhub.packs.order_to_cash.brm", "utilhub.syncrequests.model"]
    assert hub_models_imported(maps) == ["utilhub.platform.dvm"]
    assert hub_models_imported(platform) == []
