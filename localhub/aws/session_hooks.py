"""A handler on the library's boto3 session (``utilhub.platform.aws.session``), for what a run watches.

boto3 clients copy their session's event handlers when they are created, so installing a hook resets the
library's clients (they are built again, with the hook) and removing it resets them once more. Resetting the
clients starts a new session: every hook still installed is registered on it again, so hooks installed together
(the recorder of the least-privilege checks and a throttling of a fault test) each keep seeing the calls. Both happen
under the runtime's invocation lock, never while a function runs. Only calls made through the library's
session are seen: the runtime's own calls (pollers, the tests' boto3 clients, moto) never are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from localhub.lambda_.runtime import INVOCATION_LOCK
from utilhub.platform import aws


class SessionHook(ABC):
    """Calls ``_on_call`` on every ``event`` (``"before-call"``, ``"before-endpoint-resolution"``) while installed;
    usable as a context manager."""

    event: str
    unique_id: str

    _installed: ClassVar[list[SessionHook]] = []  # in the order they were installed

    @abstractmethod
    def _on_call(self, model: Any, **kwargs: Any) -> Any:
        """What the hook does with one call (the event's arguments: ``model``, ``params``, ``context``); on ``before-call``,
        a response ends the call there."""

    def install(self) -> Self:
        with INVOCATION_LOCK:
            if self not in SessionHook._installed:
                SessionHook._installed.append(self)
            _renew_session()
        return self

    def uninstall(self) -> None:
        with INVOCATION_LOCK:
            if self in SessionHook._installed:
                SessionHook._installed.remove(self)
            _renew_session()

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(self, *_: object) -> None:
        self.uninstall()


def _renew_session() -> None:
    """A new session for the library's clients, with every installed hook on it (none: boto3's own)."""
    aws.reset_clients()
    if SessionHook._installed:
        session = aws.session()
        for hook in SessionHook._installed:
            session.events.register(hook.event, hook._on_call, unique_id=hook.unique_id)
