"""A handler on the library's boto3 session (``utilhub.platform.aws.session``), for what a run watches.

boto3 clients copy their session's event handlers when they are created, so installing a hook resets the
library's clients (they are built again, with the hook) and removing it resets them once more. Both happen
under the runtime's invocation lock, never while a function runs. Only calls made through the library's
session are seen: the runtime's own calls (pollers, the tests' boto3 clients, moto) never are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

from localhub.lambda_.runtime import INVOCATION_LOCK
from utilhub.platform import aws


class SessionHook(ABC):
    """Calls ``_on_call`` on every ``event`` (``"before-call"``, ``"before-call.dynamodb"``) while installed;
    usable as a context manager."""

    event: str
    unique_id: str

    _session: Any = None

    @abstractmethod
    def _on_call(self, model: Any, **kwargs: Any) -> Any:
        """What the hook does with one call (botocore's ``before-call`` arguments); a response ends the call there."""

    def install(self) -> Self:
        with INVOCATION_LOCK:
            aws.reset_clients()
            self._session = aws.session()
            self._session.events.register(self.event, self._on_call, unique_id=self.unique_id)
        return self

    def uninstall(self) -> None:
        with INVOCATION_LOCK:
            if self._session is not None:
                self._session.events.unregister(self.event, unique_id=self.unique_id)
                self._session = None
            aws.reset_clients()

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(self, *_: object) -> None:
        self.uninstall()
