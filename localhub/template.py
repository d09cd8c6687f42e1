"""Read ``template.yaml`` and resolve it for a local account: the one reader of the topology.

:class:`Template` loads the SAM template (CloudFormation short tags included);
:class:`LocalStack` keeps the resources whose ``Condition`` holds under its parameters (:meth:`Template.deployed`),
gives every resource a local physical name, resolves parameters,
conditions and intrinsic functions (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If``, ``Fn::FindInMap``, ...),
and describes each function (code, handler, environment, events) as Lambda would see it.
:mod:`localhub.aws.provision` creates the AWS resources in an endpoint from it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
NO_VALUE = object()


try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _CfnLoader(_SafeLoader):
    """YAML with CloudFormation short-form tags turned into their long form (libyaml's parser when
    PyYAML has it: the template is read at every hub start, and the pure-Python one takes ten times as long)."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass with CFN tags only
    return body


FOR_EACH = "Fn::ForEach::"


def expand_for_each(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with the ``Fn::ForEach`` loops of the ``AWS::LanguageExtensions`` transform expanded, as CloudFormation
    expands them: one copy of the loop's body per item of its (literal) collection, the identifier replaced in the
    output keys (``${Id}``, ``&{Id}``), in ``Ref: Id`` and in ``Fn::Sub`` strings; a ``Fn::FindInMap`` whose keys
    are then literal is looked up (the reader's callers see plain values, as after the transform)."""
    expanded = dict(body)
    for section in ("Conditions", "Resources", "Outputs"):
        if section in body:
            expanded[section] = _expand_section(section, body[section], body.get("Mappings", {}))
    return expanded


def _expand_section(section: str, entries: Mapping[str, Any], mappings: Mapping[str, Any]) -> dict[str, Any]:
    expanded: dict[str, Any] = {}
    for key, value in entries.items():
        if not key.startswith(FOR_EACH):
            expanded[key] = value
            continue
        identifier, collection, outputs = value
        if not isinstance(collection, list) or not all(isinstance(item, str) for item in collection):
            raise TemplateError(f"{section}.{key}: the reader expands only a literal list of names")
        for item in collection:
            for output_key, output in outputs.items():
                name = output_key.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", item)
                if name in expanded or name in entries or name.startswith(FOR_EACH):
                    raise TemplateError(f"{section}.{key}: {name} is declared twice (or is a nested loop)")
                expanded[name] = _substitute(output, identifier, item, mappings)
    return expanded


def _substitute(node: Any, identifier: str, item: str, mappings: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_substitute(value, identifier, item, mappings) for value in node]
    if not isinstance(node, dict):
        return node
    if node == {"Ref": identifier}:
        return item
    if set(node) == {"Fn::Sub"}:
        arg = node["Fn::Sub"]
        if isinstance(arg, str):
            text = arg.replace(f"${{{identifier}}}", item)
            return text if "${" not in text else {"Fn::Sub": text}
        return {"Fn::Sub": [arg[0].replace(f"${{{identifier}}}", item), _substitute(arg[1], identifier, item, mappings)]}
    result = {key: _substitute(value, identifier, item, mappings) for key, value in node.items()}
    if set(result) == {"Fn::FindInMap"} and all(isinstance(key, str) for key in result["Fn::FindInMap"]):
        name, top, second = result["Fn::FindInMap"]
        return mappings[name][top][second]
    return result


class TemplateError(ValueError):
    """The template says something the reader cannot take literally."""


NESTED_LOCATIONS = {"AWS::Serverless::Application": "Location", "AWS::CloudFormation::Stack": "TemplateURL"}


def template_files(path: Path = TEMPLATE_PATH) -> list[Path]:
    """``path`` and every template it composes: the local file (a path relative to the composing template, as
    ``sam build`` takes it) of each nested application or stack, and theirs in turn (an application from the
    Serverless Application Repository or a URL is not a file of this repository)."""
    files = [path]
    resources = expand_for_each(load_yaml(path.read_text(encoding="utf-8"))).get("Resources", {})
    for resource in resources.values():
        location = resource.get("Properties", {}).get(NESTED_LOCATIONS.get(resource.get("Type"), ""))
        if isinstance(location, str) and "://" not in location:
            files.extend(file for file in template_files(path.parent / location) if file not in files)
    return files


@dataclass(frozen=True)
class Template:
    body: dict[str, Any]

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        return cls(expand_for_each(load_yaml(path.read_text(encoding="utf-8"))))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources", {})  # type: ignore[no-any-return]

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Parameters", {})  # type: ignore[no-any-return]

    @property
    def function_globals(self) -> dict[str, Any]:
        return self.body.get("Globals", {}).get("Function", {})  # type: ignore[no-any-return]

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                yield logical_id, resource

    def http_routes(self) -> list[HttpRoute]:
        """Every ``HttpApi`` event of the template's functions, with the authorizer API Gateway applies to it:
        the event's own ``Auth.Authorizer``, else its API's ``DefaultAuthorizer`` (``NONE``: no authorizer)."""
        routes = []
        for logical_id, resource in self.of_type("AWS::Serverless::Function"):
            for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
                if event.get("Type") != "HttpApi":
                    continue
                where = f"{logical_id}.Events.{event_name}"
                properties = event.get("Properties", {})
                method, path = properties.get("Method", "ANY"), properties.get("Path")
                auth = properties.get("Auth", {})
                scopes = auth.get("AuthorizationScopes", [])
                if not isinstance(method, str) or not isinstance(path, str):
                    raise TemplateError(f"{where}: an HttpApi event needs a literal Method and Path.")
                if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                    raise TemplateError(f"{where}: AuthorizationScopes must be a list of literal scope names.")
                authorizer = auth.get("Authorizer", self._default_authorizer(properties.get("ApiId")))
                routes.append(
                    HttpRoute(
                        function=logical_id,
                        event=event_name,
                        method=method.upper(),
                        path=path,
                        scopes=tuple(scopes),
                        authorizer=None if authorizer in (None, "NONE") else str(authorizer),
                    )
                )
        return routes

    def deployed(self, holds: Callable[[str], bool]) -> Template:
        """The template as CloudFormation deploys it: without the resources and outputs whose ``Condition`` does not
        hold (``holds``: a condition's value under the stack's parameters). Everything read from the result (routes,
        functions, clients, what is provisioned) is then only what is deployed. A resource kept that refers to one
        left out (outside an ``Fn::If``) is refused, as CloudFormation refuses it."""
        kept = {
            section: {name: entry for name, entry in self.body.get(section, {}).items() if _holds(entry, holds)}
            for section in ("Resources", "Outputs")
        }
        left_out = set(self.resources) - set(kept["Resources"])
        for section, entries in kept.items():
            for name, entry in entries.items():
                if missing := sorted(_references(entry) & left_out):
                    raise TemplateError(f"{section}.{name} refers to {', '.join(missing)}, which its condition leaves out")
        return Template({**self.body, **{section: kept[section] for section in kept if section in self.body}})

    def _default_authorizer(self, api_id: Any) -> Any:
        """The ``DefaultAuthorizer`` of the API an event names (``Ref``), or of the implicit API (``Globals``)."""
        api = self.resources.get(api_id["Ref"], {}) if isinstance(api_id, dict) and "Ref" in api_id else {}
        auth = api.get("Properties", {}).get("Auth") or self.body.get("Globals", {}).get("HttpApi", {}).get("Auth", {})
        return auth.get("DefaultAuthorizer")


def _holds(entry: Any, holds: Callable[[str], bool]) -> bool:
    condition = entry.get("Condition") if isinstance(entry, dict) else None
    return condition is None or holds(condition)


def _references(node: Any) -> set[str]:
    """The names ``node`` refers to (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``DependsOn``), except inside an ``Fn::If``,
    whose branch a condition chooses."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, arg in node.items():
            if key == "Fn::If":
                continue
            if key in ("Ref", "DependsOn") and isinstance(arg, str):
                found.add(arg)
            elif key == "DependsOn" and isinstance(arg, list):
                found.update(arg)
            elif key == "Fn::GetAtt" and isinstance(arg, list) and isinstance(arg[0], str):
                found.add(arg[0])
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                found.update(name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", str(text)))
            found |= _references(arg)
    return found


@dataclass(frozen=True)
class HttpRoute:
    """One route of the HTTP API: an ``HttpApi`` event of a function, with the authorizer that guards it
    (``None``: the route is open)."""

    function: str
    event: str
    method: str
    path: str
    scopes: tuple[str, ...]
    authorizer: str | None

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Physical:
    """What a resource is locally: its ``Ref`` value and its ``Fn::GetAtt`` attributes."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventSource:
    name: str
    type: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_uri: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    events: list[EventSource]
    metadata: dict[str, Any]
    reserved_concurrency: int | None = None

    @property
    def module(self) -> str:
        """The handler's import path: ``functions.<pack>.<point>.app``."""
        package = self.code_uri.strip("/").replace("/", ".")
        return f"{package}.{self.handler.rsplit('.', 1)[0]}"

    @property
    def function_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


def parameter_refusal(name: str, spec: Mapping[str, Any], value: str) -> str | None:
    """Why CloudFormation would refuse ``value`` for parameter ``name`` (``AllowedValues``, ``AllowedPattern``), or None."""
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    if allowed and value not in allowed:
        return f"{name} must be one of {', '.join(allowed)}, not {value!r}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        return f"{name} must match {pattern} ({spec.get('ConstraintDescription', 'its AllowedPattern')}), not {value!r}"
    return None


class LocalStack:
    """The template resolved for one local account and region; a parameter value the template does not
    allow is refused as CloudFormation would refuse it."""

    def __init__(
        self,
        template: Template | None = None,
        *,
        parameters: Mapping[str, str] | None = None,
        prefix: str = "utilhub-local",
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        template = template or Template.load()
        self.template = template
        self.prefix = prefix
        self.region = region
        self.account_id = account_id
        self.parameters = {
            name: str((parameters or {}).get(name, spec.get("Default", ""))) for name, spec in self.template.parameters.items()
        }
        for name, spec in self.template.parameters.items():
            if (refusal := parameter_refusal(name, spec, self.parameters[name])) is not None:
                raise ValueError(refusal)
        self.physical: dict[str, Physical] = {}
        self._conditions: dict[str, bool] = {}
        # what these parameters deploy: the resources whose Condition holds (conditions read parameters only)
        self.template = template.deployed(self.condition)

    # ------------------------------------------------------------------ naming
    def default_name(self, logical_id: str, *, fifo: bool = False) -> str:
        return f"{self.prefix}-{logical_id}" + (".fifo" if fifo else "")

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    # ------------------------------------------------------------------ resolution
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template.body.get("Conditions", {})[name]))
        return self._conditions[name]

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.prefix,
            "AWS::StackId": self.arn("cloudformation", f"stack/{self.prefix}/local"),
            "AWS::NoValue": NO_VALUE,
        }[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name].ref
        if name in self.template.resources:
            raise KeyError(f"{name} is referenced before it exists locally")
        raise KeyError(f"Ref to unknown name {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        physical = self.physical.get(logical_id)
        if physical is None or attribute not in physical.attributes:
            raise KeyError(f"{logical_id}.{attribute} is not known locally")
        return physical.attributes[attribute]

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function evaluated (``AWS::NoValue`` entries dropped)."""
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self._sub(arg[0], {k: self.resolve(v) for k, v in arg[1].items()})
                return self._sub(arg, {})
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::FindInMap":
                name, top, second = (self.resolve(a) for a in arg)
                return self.template.body["Mappings"][name][top][second]
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}

    # ------------------------------------------------------------------ dependencies
    def dependencies(self, logical_id: str) -> set[str]:
        """The resources ``logical_id`` refers to (Ref, GetAtt, Sub, DependsOn)."""
        resource = self.template.resources[logical_id]
        found: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, arg in node.items():
                    if key == "Ref" and isinstance(arg, str):
                        found.add(arg)
                    elif key == "Fn::GetAtt":
                        found.add(arg[0])
                    elif key == "Fn::Sub":
                        text = arg[0] if isinstance(arg, list) else arg
                        for name in re.findall(r"\$\{([^}!]+)\}", text):
                            found.add(name.split(".", 1)[0])
                    walk(arg)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(resource.get("Properties", {}))
        depends = resource.get("DependsOn", [])
        found.update([depends] if isinstance(depends, str) else depends)
        return {name for name in found if name in self.template.resources and name != logical_id}

    def creation_order(self) -> list[str]:
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                raise ValueError(f"dependency cycle through {name}")
            state[name] = "visiting"
            for dependency in sorted(self.dependencies(name)):
                visit(dependency)
            state[name] = "done"
            order.append(name)

        for name in self.template.resources:
            visit(name)
        return order

    # ------------------------------------------------------------------ functions
    def functions(self) -> list[FunctionSpec]:
        globals_ = self.template.function_globals
        specs = []
        for logical_id, resource in self.template.of_type("AWS::Serverless::Function"):
            props = resource.get("Properties", {})
            env: dict[str, Any] = {
                **globals_.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    name=self.physical[logical_id].ref if logical_id in self.physical else self.default_name(logical_id),
                    code_uri=props["CodeUri"],
                    handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                    timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                    memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                    environment={k: str(v) for k, v in self.resolve(env).items()},
                    events=[
                        EventSource(name, event["Type"], self.resolve(event.get("Properties", {})))
                        for name, event in props.get("Events", {}).items()
                    ],
                    metadata=resource.get("Metadata", {}),
                    reserved_concurrency=_optional_int(
                        self.resolve(props.get("ReservedConcurrentExecutions", globals_.get("ReservedConcurrentExecutions")))
                    ),
                )
            )
        return specs

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions():
            if spec.logical_id == logical_id:
                return spec
        raise KeyError(f"no function {logical_id} in the template")

    def resource_map(self) -> dict[str, str]:
        """Logical id -> physical name, queue URL or ARN (the control API's /_local/resources)."""
        return {logical_id: physical.ref for logical_id, physical in self.physical.items()}


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def main(argv: list[str]) -> None:
    """``python -m localhub.template [FILE]``: the template with its ``Fn::ForEach`` loops expanded, as JSON (checkov
    reads this: it skips the loops and, when a template has any, the ``Globals`` too)."""
    path = Path(argv[0]) if argv else TEMPLATE_PATH
    print(json.dumps(Template.load(path).body, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
