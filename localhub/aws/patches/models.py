"""moto (5.2.5) keeps every model object it ever made: ``BaseModel.__new__`` appends each new
instance (a table, an item, each copy of an item, a queue message, ...) to its class's
``instances_tracked`` list, for the server's dashboard (``/moto-api/data.json``), and only a reset
empties it. In the embedded AWS every item written, every copy moto makes of one to answer a query
or an update, and every message received stayed in memory for the life of the hub: about 26 KB
per sync request, and gigabytes once transactions copied whole tables.

:func:`install` makes ``BaseModel.__new__`` create the instance without recording it, so an object
lives as long as something of moto's uses it. The one thing lost is the dashboard's list of
objects, which nothing here reads. Written so it can be offered upstream (as a setting, say, to
record instances only when the dashboard is wanted); drop it the day moto ships an equivalent.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.core.common_models import BaseModel

_installed = False
_install_lock = threading.Lock()


def _new_untracked(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
    return super(BaseModel, cls).__new__(cls)


def install() -> None:
    """Stop recording moto's model instances (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        BaseModel.__new__ = staticmethod(_new_untracked)  # type: ignore[method-assign]
        _installed = True
