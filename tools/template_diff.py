"""What a change of the templates changes in what they deploy: ``python -m tools.template_diff [REV]``.

Reads the root template and every template it composes as the local runtime does (``localhub.template.Template``:
``Fn::ForEach`` loops expanded, packs merged in), once from the git revision ``REV`` (default ``HEAD``) and once from
the working tree, and lists every resource, output or condition that differs. Before comparing, each side is
brought to what CloudFormation would create: each function's ``Globals`` merged in as SAM merges them (its own
environment variables over the Globals'), a function's policies in any order (SAM makes them one role's), a
``Fn::FindInMap`` with literal keys looked up, and an ``Fn::Sub`` whose variables are all literal substituted. A rewrite that only says things once prints nothing and exits 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localhub.template import ROOT, Template, template_files


def _at_revision(revision: str, directory: Path) -> Path:
    """The templates as they were at ``revision``, written under ``directory``; the root template's path there."""
    for path in template_files():
        relative = path.relative_to(ROOT)
        command = ["git", "show", f"{revision}:{relative}"]
        shown = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603 - git, on PATH
        if shown.returncode != 0:
            continue  # a template the revision did not have yet
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(shown.stdout, encoding="utf-8")
    return directory / "template.yaml"


def _normal(node: Any, mappings: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_normal(item, mappings) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _normal(value, mappings) for key, value in node.items()}
    if set(node) == {"Fn::FindInMap"} and all(isinstance(key, str) for key in node["Fn::FindInMap"]):
        name, top, second = node["Fn::FindInMap"]
        return mappings[name][top][second]
    if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str) and "${" not in node["Fn::Sub"]:
        return node["Fn::Sub"]
    if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], list):
        text, variables = node["Fn::Sub"]
        literal = {name: value for name, value in variables.items() if isinstance(value, str | int)}
        for name, value in literal.items():
            text = text.replace(f"${{{name}}}", str(value))
        rest = {name: value for name, value in variables.items() if name not in literal}
        return {"Fn::Sub": [text, rest]} if rest else _normal({"Fn::Sub": text}, mappings)
    return node


def deployed(template: Template) -> dict[str, Any]:
    """The template's resources, outputs and conditions, normalised as the module's docstring says."""
    mappings = template.body.get("Mappings", {})
    globals_ = template.function_globals
    resources = {}
    for logical_id, resource in template.resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = {**globals_, **resource.get("Properties", {})}
            variables = {
                **globals_.get("Environment", {}).get("Variables", {}),
                **resource["Properties"].get("Environment", {}).get("Variables", {}),
            }
            if variables:
                properties["Environment"] = {"Variables": variables}
            resource = {**resource, "Properties": properties}
        resources[logical_id] = _normal(resource, mappings)
        if isinstance(policies := resources[logical_id].get("Properties", {}).get("Policies"), list):
            # a function's policies have no order: SAM makes them one role's
            resources[logical_id]["Properties"]["Policies"] = sorted(policies, key=lambda policy: json.dumps(policy, sort_keys=True))
    return {
        "Resources": resources,
        "Outputs": _normal(template.body.get("Outputs", {}), mappings),
        "Conditions": _normal(template.body.get("Conditions", {}), mappings),
    }


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    found = []
    for section in ("Resources", "Outputs", "Conditions"):
        for name in sorted(set(before[section]) | set(after[section])):
            old, new = before[section].get(name), after[section].get(name)
            if old != new:
                found.append(f"{section}.{name}:\n  before {json.dumps(old, sort_keys=True)}\n  after  {json.dumps(new, sort_keys=True)}")
    return found


def main(argv: list[str]) -> int:
    if Path(__file__).resolve().parent.parent != ROOT:
        sys.exit(f"localhub was imported from {ROOT}: run python -m tools.template_diff from this repository")
    revision = argv[0] if argv else "HEAD"
    with tempfile.TemporaryDirectory() as directory:
        before = deployed(Template.load(_at_revision(revision, Path(directory))))
    after = deployed(Template.load())
    found = differences(before, after)
    print("\n".join(found) or f"the templates deploy what they deployed at {revision}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
