"""The cold-start benchmark (benchmarks/imports.py) measures every handler the template deploys, each imported by its
module with the environment the local hub gives its function. It checks what is measured, never how fast."""

from __future__ import annotations

from benchmarks.imports import FLOOR, commands, handlers_of
from localhub.hub import LocalHub
from localhub.template import ROOT, Template


def test_the_bench_imports_every_handler_of_the_template_with_its_environment(hub: LocalHub) -> None:
    # Given the template's functions and the handler files on disk
    declared = {logical_id for logical_id, _ in Template.load().of_type("AWS::Serverless::Function")}
    on_disk = {".".join(path.relative_to(ROOT).with_suffix("").parts) for path in (ROOT / "functions").glob("**/app.py")}

    # When the benchmark's commands are built from the hub
    measured = commands(handlers_of(hub))

    # Then there is one per function of the template besides the start-up and the floor, one per handler file
    assert set(measured) - {"pass", FLOOR} == declared
    assert measured[FLOOR][0] == "import boto3"
    assert {code.removeprefix("import ") for name, (code, _) in measured.items() if name in declared} == on_disk
    # And each runs with its function's resolved settings and tracing off
    for spec in hub.functions():
        code, environment = measured[spec.logical_id]
        assert code == f"import {spec.module}"
        assert {k: v for k, v in environment.items() if k.startswith("UTILHUB_")} == {
            k: v for k, v in spec.environment.items() if k.startswith("UTILHUB_")
        }
        assert environment["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_a_quick_run_measures_one_handler_of_each_pack(hub: LocalHub) -> None:
    from benchmarks.imports import one_per_pack

    # Given the template's handlers, by the pack folder under functions/ each is in
    handlers = handlers_of(hub)
    packs = {module.split(".")[1] for module, _ in handlers.values()}

    # When a quick run chooses what it measures, then it is one handler of each pack, the first by logical id
    chosen = one_per_pack(handlers)
    assert sorted(module.split(".")[1] for module, _ in chosen.values()) == sorted(packs)
    for logical_id, (module, _) in chosen.items():
        assert logical_id == min(name for name, (other, _) in handlers.items() if other.split(".")[1] == module.split(".")[1])
