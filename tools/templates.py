"""The templates SAM deploys, generated from what is written by hand: ``python -m tools.templates`` (``make templates``).

The sources are ``templates/root.yaml`` (the platform) and ``templates/packs/<pack>.yaml`` (each pack), plain SAM and
CloudFormation with comments. The generator writes ``template.yaml`` and ``packs/<pack>.yaml`` from them (what SAM,
cfn-lint, checkov, the tests and the local runtime read), each in long form, without comments, under a header naming its
source; ``tests/unit/test_templates.py`` fails when a committed one is not what the sources make now.

It expands five things, each into ordinary CloudFormation, and nothing else; what they are made from is in the root
source's sections ``PackParameters``, ``MappingLoops``, ``FunctionBundles`` and ``ResourceDefaults``, which no
generated template carries:

- **A pack's interface.** A pack is a nested stack: it declares each platform name it uses as a parameter, and the
  root passes each. Neither is written. A pack's ``Parameters`` are every name its template uses (``Ref``,
  ``Fn::GetAtt``, ``${...}`` in ``Fn::Sub``) and does not declare, each typed as the root declares it (``String`` for a
  resource); the root's ``AWS::Serverless::Application`` of the pack passes each the root's parameter or resource of
  that name (``!Ref``), or what ``PackParameters`` gives that name (``${Pack}`` standing for the application's name
  without ``Pack``: ``IdempotencyRecordsPolicy`` is ``!Ref <Pack>IdempotencyRecordsPolicy``). A condition of the root
  a pack uses and does not declare (``HasAlarmTopic``) is copied into it.
- **What every template has as the root has it.** A pack gets the root's ``AWSTemplateFormatVersion``, ``Transform``,
  ``Metadata`` (unless it has its own) and function ``Globals`` (the local reader refuses a pack whose functions are
  not like every other), each root expression there that ``PackParameters`` names replaced by that parameter
  (``!GetAtt ClientSystems.Value`` by ``!Ref ClientSystems``).
- **Loops over a mapping's rows.** ``MappingLoops`` holds loops by the name of a mapping (``QueueAlarms``,
  ``FailureMetricAlarms``, ``StateMachineAlarms``, ``Routes``): every template with a mapping of that name gets
  ``Fn::ForEach::<name>`` over its rows (the ``AWS::LanguageExtensions`` loop, which SAM, cfn-lint and
  ``localhub.template`` expand), so a template adds an alarm or a route by adding a row.
- **A function's bundles.** A function's ``Metadata: {utilhub: {uses: [...]}}`` names bundles of ``FunctionBundles``
  (a connection to an application, CCB outcomes, a shared table, the domain value maps, the idempotency records):
  each bundle's ``Variables`` are added to the function's environment (a variable the function sets itself keeps its
  own value, as over ``Globals``) and its ``Policies`` after the function's own (one it also lists itself is refused);
  ``uses`` is then removed.
- **Resource defaults.** ``ResourceDefaults`` gives, by resource type, the properties every resource of that type has
  unless it sets them itself (every queue and table encrypted with the data key, ...), as ``Globals`` does for
  functions; in every template, the resources of a loop a source writes too (not those of the ``MappingLoops`` loops,
  added after: alarms and routes, whose types have no defaults). A resource that must not have a default sets that
  property to ``!Ref AWS::NoValue``.

``python -m tools.templates --compare REV`` compares what the sources make with the templates committed at ``REV``,
each read as the local runtime reads a template (:func:`localhub.template.load_yaml`): equal data, apart from key order
and the order of a function's policies (SAM makes them one role's, whose policies have no order).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from localhub.template import ROOT, expand_for_each, load_yaml

SOURCES = ROOT / "templates"
APPLICATION = "AWS::Serverless::Application"
# what only the root source says: it is expanded, never emitted
SOURCE_ONLY = ("PackParameters", "MappingLoops", "FunctionBundles", "ResourceDefaults")
ORDER = ("AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters", "Mappings", "Conditions", "Globals")
REGENERATE = "make templates"


class SourceError(ValueError):
    """A source the generator cannot expand as its docstring says."""


def source_files(sources: Path = SOURCES) -> list[Path]:
    """What a person writes: the root source and each pack's (what tools/template_size.py measures)."""
    return [sources / "root.yaml", *sorted((sources / "packs").glob("*.yaml"))]


def generate(sources: Path = SOURCES, out: Path = ROOT) -> dict[Path, str]:
    """Each template's path (under ``out``) and its text, as the sources (under ``sources``) make them."""
    source = load_yaml((sources / "root.yaml").read_text(encoding="utf-8"))
    passes: dict[str, Any] = source.get("PackParameters", {})
    loops: dict[str, Any] = source.get("MappingLoops", {})
    bundles: dict[str, Any] = source.get("FunctionBundles", {})
    defaults: dict[str, Any] = source.get("ResourceDefaults", {})
    written = {key: value for key, value in source.items() if key not in SOURCE_ONLY}
    root = _with_loops(_with_defaults(_with_bundles(written, bundles), defaults), loops)
    texts: dict[Path, str] = {}
    for app_id, app in root["Resources"].items():
        if not isinstance(app, dict) or app.get("Type") != APPLICATION:
            continue
        location = app["Properties"]["Location"]
        pack_source = sources / location
        pack_body = _with_defaults(_with_bundles(load_yaml(pack_source.read_text(encoding="utf-8")), bundles), defaults)
        pack = _pack(pack_body, root, passes, loops)
        pack_name = app_id.removesuffix("Pack")
        app["Properties"]["Parameters"] = {name: _passed(name, pack_name, passes) for name in pack["Parameters"]}
        texts[out / location] = _render(pack, pack_source.relative_to(sources.parent))
    texts[out / "template.yaml"] = _render(root, (sources / "root.yaml").relative_to(sources.parent))
    return texts


def _pack(source: dict[str, Any], root: Mapping[str, Any], passes: Mapping[str, Any], loops: Mapping[str, Any]) -> dict[str, Any]:
    pack = _with_loops(source, loops)
    pack.setdefault("Metadata", root.get("Metadata", {}))
    reverse = {_key(value): {"Ref": name} for name, value in passes.items() if "${Pack}" not in _key(value)}
    pack["Globals"] = {"Function": _replaced(root["Globals"]["Function"], reverse)}
    conditions = dict(pack.get("Conditions", {}))
    for name in _conditions_used(expand_for_each(pack)):
        if name not in conditions:
            if name not in root.get("Conditions", {}):
                raise SourceError(f"{source.get('Description', '')[:40]}: condition {name} is neither the pack's nor the root's")
            conditions[name] = root["Conditions"][name]
    pack["Conditions"] = conditions
    expanded = expand_for_each(pack)
    declared = set(expanded.get("Resources", {})) | set(pack.get("Parameters", {}))
    root_parameters = root.get("Parameters", {})
    parameters: dict[str, Any] = {}
    for name in _names_used(expanded):
        if name in declared or name in parameters:
            continue
        if name in root_parameters:
            parameters[name] = {"Type": root_parameters[name]["Type"]}
        elif name in passes or name in expand_for_each(root)["Resources"]:
            parameters[name] = {"Type": "String"}
        else:
            raise SourceError(f"a pack uses {name}, which neither it nor the root declares")
    # in the root's order: its parameters, then what PackParameters names, then its resources
    order = [*root_parameters, *passes, *expand_for_each(root)["Resources"]]
    parameters = dict(sorted(parameters.items(), key=lambda item: order.index(item[0])))
    pack["Parameters"] = {**parameters, **pack.get("Parameters", {})}
    header = {key: root[key] for key in ("AWSTemplateFormatVersion", "Transform")}
    ordered = {**header, **{key: pack[key] for key in ORDER if key in pack}}
    return {**ordered, **pack}


def _passed(name: str, pack: str, passes: Mapping[str, Any]) -> Any:
    if name not in passes:
        return {"Ref": name}
    value = passes[name]
    return load_yaml(_key(value).replace("${Pack}", pack))


def _key(node: Any) -> str:
    return yaml.safe_dump(node, default_flow_style=True, width=1000).strip()


def _replaced(node: Any, replacements: Mapping[str, Any]) -> Any:
    if (replacement := replacements.get(_key(node))) is not None:
        return replacement
    if isinstance(node, dict):
        return {key: _replaced(value, replacements) for key, value in node.items()}
    if isinstance(node, list):
        return [_replaced(value, replacements) for value in node]
    return node


def _with_bundles(body: Mapping[str, Any], bundles: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each function's ``Metadata.utilhub.uses`` expanded: the variables and policies of each bundle
    named added to its own (its own variable of a name the bundle also sets is kept), the name list removed."""
    resources = {}
    for name, resource in body.get("Resources", {}).items():
        uses = resource.get("Metadata", {}).get("utilhub", {}).get("uses") if isinstance(resource, dict) else None
        if uses is None:
            resources[name] = resource
            continue
        utilhub = {key: value for key, value in resource["Metadata"]["utilhub"].items() if key != "uses"}
        metadata = (
            {**resource["Metadata"], "utilhub": utilhub} if utilhub else {k: v for k, v in resource["Metadata"].items() if k != "utilhub"}
        )
        properties = dict(resource.get("Properties", {}))
        variables: dict[str, Any] = {}
        policies = list(properties.get("Policies", []))
        for bundle in uses:
            if bundle not in bundles:
                raise SourceError(f"{name} uses {bundle}, which FunctionBundles does not define")
            variables.update(bundles[bundle].get("Variables", {}))
            for policy in bundles[bundle].get("Policies", []):
                if policy in policies:
                    raise SourceError(f"{name}: {_key(policy)} is its own and {bundle}'s")
                policies.append(policy)
        variables.update(properties.get("Environment", {}).get("Variables", {}))
        if variables:
            properties["Environment"] = {**properties.get("Environment", {}), "Variables": variables}
        if policies:
            properties["Policies"] = policies
        resources[name] = {
            **{k: v for k, v in resource.items() if k != "Metadata"},
            **({"Metadata": metadata} if metadata else {}),
            "Properties": properties,
        }
    return {**body, "Resources": resources}


def _with_defaults(body: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each resource of a type ``defaults`` names (in a loop too) given the properties it does not set."""

    def completed(resource: Any) -> Any:
        if not isinstance(resource, dict) or resource.get("Type") not in defaults:
            return resource
        return {**resource, "Properties": {**defaults[resource["Type"]], **resource.get("Properties", {})}}

    resources = {
        name: [value[0], value[1], {key: completed(output) for key, output in value[2].items()}]
        if name.startswith("Fn::ForEach::")
        else completed(value)
        for name, value in body.get("Resources", {}).items()
    }
    return {**body, "Resources": resources}


def _with_loops(body: Mapping[str, Any], loops: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with ``Fn::ForEach::<name>`` over the rows of each of its mappings a loop of ``loops`` is named after."""
    result = dict(body)
    mappings = body.get("Mappings", {})
    added = {
        f"Fn::ForEach::{name}": [identifier, list(mappings[name]), outputs]
        for name, (identifier, outputs) in loops.items()
        if name in mappings
    }
    if clash := sorted(set(added) & set(body.get("Resources", {}))):
        raise SourceError(f"{', '.join(clash)}: written in a source and made from its mapping")
    result["Resources"] = {**body.get("Resources", {}), **added}
    return result


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _loop_identifiers(body: Mapping[str, Any]) -> set[str]:
    return {
        value[0]
        for section in ("Resources", "Outputs", "Conditions")
        for key, value in body.get(section, {}).items()
        if key.startswith("Fn::ForEach::")
    }


def _names_used(body: Mapping[str, Any]) -> list[str]:
    """The names ``body`` refers to (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``), in the order it first does, without the
    pseudo parameters, its loops' identifiers and an ``Fn::Sub``'s own variables."""
    names: dict[str, None] = {}
    skip = _loop_identifiers(body)
    sections = {key: value for key, value in body.items() if key not in ("Mappings", "Parameters")}
    for node in _walk(sections):
        if not isinstance(node, dict) or len(node) != 1:
            continue
        [(key, value)] = node.items()
        if key == "Ref" and isinstance(value, str):
            names[value] = None
        elif key == "Fn::GetAtt" and isinstance(value, list) and isinstance(value[0], str):
            names[value[0]] = None
        elif key == "Fn::Sub":
            text, own = (value, {}) if isinstance(value, str) else (value[0], value[1])
            for name in re.findall(r"\$\{([^}$!]+)\}", text):
                if name.split(".")[0] not in own:
                    names[name.split(".")[0]] = None
    return [name for name in names if not name.startswith("AWS::") and name not in skip]


def _conditions_used(body: Mapping[str, Any]) -> list[str]:
    names: dict[str, None] = {}
    for node in _walk({key: value for key, value in body.items() if key in ("Resources", "Outputs", "Conditions")}):
        if isinstance(node, dict):
            if isinstance(node.get("Condition"), str) and (len(node) == 1 or "Type" in node or "Value" in node):
                names[node["Condition"]] = None
            if isinstance(node.get("Fn::If"), list):
                names[node["Fn::If"][0]] = None
    return list(names)


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order given, long lines kept whole."""


def _render(body: Mapping[str, Any], source: Path) -> str:
    header = f"# Generated from {source.as_posix()} by `{REGENERATE}` (tools/templates.py): edit that, not this file.\n"
    text = yaml.dump(dict(body), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100_000, allow_unicode=True)
    return header + text


def stale() -> list[Path]:
    """The templates whose committed text is not what the sources make now."""
    return [path for path, text in generate().items() if not path.exists() or path.read_text(encoding="utf-8") != text]


def compare(revision: str) -> list[str]:
    """The generated templates whose data differs from the template of the same path at ``revision`` (key order aside)."""
    differences = []
    for path, text in generate().items():
        relative = path.relative_to(ROOT)
        shown = subprocess.run(["git", "show", f"{revision}:{relative}"], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603, S607 - git
        if shown.returncode != 0:
            differences.append(f"{relative}: not at {revision}")
            continue
        before, after = load_yaml(shown.stdout), load_yaml(text)
        differences.extend(f"{relative}: {where}" for where in _differences(before, after, ""))
    return differences


def _differences(before: Any, after: Any, where: str) -> Iterator[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            if key not in after:
                yield f"{where}/{key} only at the revision"
            elif key not in before:
                yield f"{where}/{key} only generated"
            else:
                yield from _differences(before[key], after[key], f"{where}/{key}")
    elif where.endswith("/Properties/Policies") and isinstance(before, list) and isinstance(after, list):
        # a function's policies in any order: SAM makes them one role's, whose policies have no order
        if sorted(map(_key, before)) != sorted(map(_key, after)):
            yield f"{where}: {before!r} != {after!r}"
    elif before != after:
        yield f"{where}: {before!r} != {after!r}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.templates", description=__doc__.splitlines()[0])
    parser.add_argument("--compare", metavar="REV", help="compare what the sources make with the templates at REV, as data")
    parser.add_argument("--check", action="store_true", help="exit 1 naming each committed template that is stale")
    args = parser.parse_args(argv)
    if args.compare:
        differences = compare(args.compare)
        print("\n".join(differences) or f"the generated templates equal {args.compare}'s as data")
        return 1 if differences else 0
    if args.check:
        paths = stale()
        print("\n".join(f"{path.relative_to(ROOT)} is stale: run {REGENERATE}" for path in paths))
        return 1 if paths else 0
    for path, text in generate().items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
