"""moto's server (5.2.5) finds the backend of every request again, under one lock for all requests.

``DomainDispatcherApplication.get_application`` holds the dispatcher's lock while
``get_backend_for_host`` looks the request's host up: first in ``backends.list_of_moto_modules()``,
which lists moto's package directory and stats each of its 200-odd entries (a host such as
``dynamodb.eu-west-1.amazonaws.com`` is never one of them, so every entry is stat'ed), then against
each backend's URL patterns in turn: 639 µs a request. Every request of every thread waits for
that lock, so under the hub's load (functions in their own processes, each call on its own server
thread) the lookup is a queue in front of the whole endpoint.

:func:`install` remembers each host's backend once moto's own lookup found it (neither moto's
package nor its patterns change while it runs; a host moto finds no backend for is looked up again,
as before, so its message is printed as before): under 1 µs a request. Written so it can be offered
upstream; drop it the day moto ships an equivalent (``docs/local-runtime.md``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_installed = False
_install_lock = threading.Lock()


def _remembering(lookup: Callable[[DomainDispatcherApplication, str | None], Any]) -> Callable[..., Any]:
    found: dict[str, Any] = {}

    @functools.wraps(lookup)
    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host is None:
            return None
        backend = found.get(host)
        if backend is None:
            backend = lookup(self, host)
            if backend is not None:
                found[host] = backend
        return backend

    return get_backend_for_host


def install() -> None:
    """Remember each host's backend (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        DomainDispatcherApplication.get_backend_for_host = _remembering(  # type: ignore[method-assign]
            DomainDispatcherApplication.get_backend_for_host
        )
        _installed = True
