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
import os
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
    if tag_suffix in ("Ref", "Condition"):  # !Condition is the short form of {"Condition": name}, not of an Fn::
        return {tag_suffix: value}
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
# The paths of a resource that SAM reads relative to the template that declares it.
RELATIVE_PATHS = ("CodeUri", "DefinitionUri", "ContentUri")


def _local_location(resource: Mapping[str, Any]) -> str | None:
    """The local file a nested application or stack is read from (relative to its template), or None."""
    location = resource.get("Properties", {}).get(NESTED_LOCATIONS.get(resource.get("Type", ""), ""))
    return location if isinstance(location, str) and "://" not in location else None


def template_files(path: Path = TEMPLATE_PATH) -> list[Path]:
    """``path`` and every template it composes: the local file (a path relative to the composing template, as
    ``sam build`` takes it) of each nested application or stack, and theirs in turn (an application from the
    Serverless Application Repository or a URL is not a file of this repository)."""
    files = [path]
    resources = expand_for_each(load_yaml(path.read_text(encoding="utf-8"))).get("Resources", {})
    for resource in resources.values():
        if (location := _local_location(resource)) is not None:
            files.extend(file for file in template_files(path.parent / location) if file not in files)
    return files


def compose(body: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``body`` (loops expanded) with each nested application or stack read from a local file merged in, as one
    template: the nested template's parameters bound to what the composing resource passes (else their defaults),
    its resources added under the composing resource's ``Condition`` (and-ed with their own), its conditions and
    its mappings' rows added, its paths (``CodeUri``, ...) made relative to ``base``, and every ``Fn::GetAtt`` of one of its
    ``Outputs`` replaced by the output's value. A nested template must use the composing one's function ``Globals``
    (the reader keeps one set), and a name declared by both with different content is refused."""
    composed = dict(body)
    for app_id, app in body.get("Resources", {}).items():
        if (location := _local_location(app)) is None:
            continue
        path = base / location
        nested = compose(expand_for_each(load_yaml(path.read_text(encoding="utf-8"))), path.parent)
        nested = _bind(nested, _parameter_values(app_id, app, nested), {})
        where = f"{app_id} ({location})"
        composed["Conditions"] = _merged(composed.get("Conditions", {}), nested.get("Conditions", {}), f"{where} Conditions")
        mappings = dict(composed.get("Mappings", {}))
        for name, rows in nested.get("Mappings", {}).items():  # a mapping of both templates: the rows of both
            mappings[name] = _merged(mappings.get(name, {}), rows, f"{where} Mappings.{name}")
        composed["Mappings"] = mappings
        if nested.get("Globals", {}).get("Function", {}) != composed.get("Globals", {}).get("Function", {}):
            raise TemplateError(f"{app_id} ({location}): its function Globals differ from its composing template's")
        resources = {name: value for name, value in composed["Resources"].items() if name != app_id}
        for name, resource in nested.get("Resources", {}).items():
            if name in resources:
                raise TemplateError(f"{app_id} ({location}): {name} is declared twice")
            resources[name] = _rebased(_under(resource, app.get("Condition"), composed), path.parent, base)
        composed["Resources"] = resources
        outputs = {f"{app_id}.Outputs.{name}": output["Value"] for name, output in nested.get("Outputs", {}).items()}
        composed = _bind(composed, {}, outputs)
    return composed


def _parameter_values(app_id: str, app: Mapping[str, Any], nested: Mapping[str, Any]) -> dict[str, Any]:
    declared = nested.get("Parameters", {})
    passed = app.get("Properties", {}).get("Parameters", {})
    if unknown := sorted(set(passed) - set(declared)):
        raise TemplateError(f"{app_id} passes {', '.join(unknown)}, which its template does not declare")
    if missing := sorted(name for name, spec in declared.items() if name not in passed and "Default" not in spec):
        raise TemplateError(f"{app_id} does not pass {', '.join(missing)}, which has no default")
    return {name: passed[name] if name in passed else str(spec["Default"]) for name, spec in declared.items()}


def _merged(into: Mapping[str, Any], entries: Mapping[str, Any], where: str) -> dict[str, Any]:
    if clashes := sorted(name for name in set(into) & set(entries) if into[name] != entries[name]):
        raise TemplateError(f"{where}: {', '.join(clashes)} declared differently by the composing template")
    return {**into, **entries}


def _under(resource: Mapping[str, Any], condition: str | None, composed: dict[str, Any]) -> dict[str, Any]:
    """``resource`` under ``condition`` as well as its own (a condition ``<outer>And<own>`` is added)."""
    own = resource.get("Condition")
    if condition is None:
        return dict(resource)
    if own is None or own == condition:
        return {**resource, "Condition": condition}
    both = f"{condition}And{own}"
    composed["Conditions"] = {**composed.get("Conditions", {}), both: {"Fn::And": [{"Condition": condition}, {"Condition": own}]}}
    return {**resource, "Condition": both}


def _rebased(resource: dict[str, Any], directory: Path, base: Path) -> dict[str, Any]:
    properties = resource.get("Properties", {})
    paths = {key: properties[key] for key in RELATIVE_PATHS if isinstance(properties.get(key), str) and "://" not in properties[key]}
    if not paths or directory == base:
        return resource
    rebased = {key: os.path.relpath(directory / value, base) + ("/" if value.endswith("/") else "") for key, value in paths.items()}
    return {**resource, "Properties": {**properties, **rebased}}


def _bind(node: Any, refs: Mapping[str, Any], attributes: Mapping[str, Any]) -> Any:
    """``node`` with each ``Ref`` to a name of ``refs`` and each ``Fn::GetAtt`` of a ``<resource>.<attribute>`` of
    ``attributes`` replaced by its value, in ``Fn::Sub`` strings too (as a variable when the value is not a literal)."""
    if isinstance(node, list):
        return [_bind(item, refs, attributes) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and isinstance(node["Ref"], str) and node["Ref"] in refs:
        return refs[node["Ref"]]
    if set(node) == {"Fn::GetAtt"} and isinstance(node["Fn::GetAtt"], list) and ".".join(map(str, node["Fn::GetAtt"])) in attributes:
        return attributes[".".join(map(str, node["Fn::GetAtt"]))]
    if set(node) == {"Fn::Sub"}:
        arg = node["Fn::Sub"]
        text, variables = (arg, {}) if isinstance(arg, str) else (str(arg[0]), _bind(dict(arg[1]), refs, attributes))
        for name in sorted(set(re.findall(r"\$\{([^}!]+)\}", text)) - set(variables)):
            if name not in refs and name not in attributes:
                continue
            value = refs[name] if name in refs else attributes[name]
            if (inline := _sub_text(value)) is not None:
                text = text.replace(f"${{{name}}}", inline)
            else:
                variables[re.sub(r"\W", "", name)] = value
                text = text.replace(f"${{{name}}}", "${" + re.sub(r"\W", "", name) + "}")
        return {"Fn::Sub": [text, variables] if variables else text}
    return {key: _bind(value, refs, attributes) for key, value in node.items()}


@dataclass(frozen=True)
class Template:
    body: dict[str, Any]

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        """The template at ``path`` with its loops expanded and the templates it composes merged in (:func:`compose`)."""
        return cls(compose(expand_for_each(load_yaml(path.read_text(encoding="utf-8"))), path.parent))

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
        return routes + self._route_resources()

    def _route_resources(self) -> list[HttpRoute]:
        """Every ``AWS::ApiGatewayV2::Route`` (how a composed template adds a route to an API it does not declare):
        its literal ``RouteKey``, its scopes, its name as an event of its function (:func:`_route_event`), its authorizer (``AuthorizerId: !Ref <authorizer>``; ``NONE``: open)
        and the function its ``Target``'s integration (``integrations/${<integration>}``) proxies to."""
        routes = []
        for logical_id, resource in self.of_type("AWS::ApiGatewayV2::Route"):
            properties = resource.get("Properties", {})
            key, scopes = properties.get("RouteKey"), properties.get("AuthorizationScopes", [])
            if not isinstance(key, str) or " " not in key:
                raise TemplateError(f"{logical_id}: a route needs a literal RouteKey 'METHOD /path'.")
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise TemplateError(f"{logical_id}: AuthorizationScopes must be a list of literal scope names.")
            method, path = key.split(" ", 1)
            function = self._integrated_function(logical_id, properties.get("Target"))
            routes.append(
                HttpRoute(
                    function=function,
                    event=_route_event(logical_id, function),
                    method=method.upper(),
                    path=path,
                    scopes=tuple(scopes),
                    authorizer=_ref_name(properties.get("AuthorizerId")) if properties.get("AuthorizationType", "NONE") != "NONE" else None,
                )
            )
        return routes

    def _integrated_function(self, route: str, target: Any) -> str:
        text = target.get("Fn::Sub") if isinstance(target, dict) else None
        found = re.fullmatch(r"integrations/\$\{(\w+)\}", text) if isinstance(text, str) else None
        integration = self.resources.get(found.group(1), {}) if found else {}
        uri = integration.get("Properties", {}).get("IntegrationUri")
        if integration.get("Type") != "AWS::ApiGatewayV2::Integration" or not isinstance(uri, dict) or "Fn::GetAtt" not in uri:
            raise TemplateError(f"{route}: Target must be !Sub integrations/${{<integration>}}, its IntegrationUri !GetAtt <function>.Arn.")
        function = str(uri["Fn::GetAtt"][0])
        if self.resources.get(function, {}).get("Type") != "AWS::Serverless::Function":
            raise TemplateError(f"{route}: its integration proxies to {function}, not a function of the template.")
        return function

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


def _route_event(route: str, function: str) -> str:
    """A route resource's name as an event of its function: ``<function>Submit`` for ``<function>SubmitRoute`` of
    ``<function>Function`` (the name an ``HttpApi`` event of the function would have), else the route's own name."""
    stem, name = function.removesuffix("Function"), route.removesuffix("Route")
    return name.removeprefix(stem) if name.startswith(stem) and name != stem else name


def _sub_text(value: Any) -> str | None:
    """How ``value`` is written inside an ``Fn::Sub`` string (a literal, ``${Name}``, ``${Resource.Attribute}``), or None."""
    if isinstance(value, str | int) and "${" not in str(value):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"} and isinstance(value["Ref"], str):
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"} and all(isinstance(part, str) for part in value["Fn::GetAtt"]):
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return None


def _ref_name(node: Any) -> str | None:
    return str(node["Ref"]) if isinstance(node, dict) and set(node) == {"Ref"} else None


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
