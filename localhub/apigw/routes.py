"""The HTTP API's routes, read from the template's ``HttpApi`` event sources.

Matching follows API Gateway: a literal segment wins over a path parameter, and
``{name+}`` takes the rest of the path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from localhub.template import LocalStack


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    scopes: tuple[str, ...]
    authorizer: str | None
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def specificity(self) -> tuple[int, int]:
        parameters = self.path.count("{")
        return (parameters, -len(self.path))


def _compile(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


def http_routes(stack: LocalStack) -> list[Route]:
    routes = [
        Route(route.method, route.path, route.function, route.scopes, route.authorizer, _compile(route.path))
        for route in stack.template.http_routes()
    ]
    return sorted(routes, key=lambda r: r.specificity)


def match(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route API Gateway would pick for ``method path``, with its path parameters."""
    for route in routes:
        if route.method not in (method.upper(), "ANY"):
            continue
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    return None
