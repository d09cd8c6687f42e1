"""Three changes to moto's SQS (5.2.5): two so a queue with thousands of messages stays fast, one so
a queue used by several threads at once loses nothing.

1. ``Queue.attributes`` computed every attribute, the approximate message counts among them
   (each a scan of every message of the queue), and moto reads it three times for each message
   sent to a FIFO queue, only to find ``ContentBasedDeduplication``. :class:`QueueAttributes`
   has the same names and values but computes an attribute only when it is read.
2. ``Message.visible`` and ``Message.delayed`` read the clock through ``unix_time_millis()``,
   which builds two datetimes and subtracts them, once per message per scan; here it is
   ``time.time()`` (the same clock, and the one freezegun freezes too).
3. A queue's messages change under its own lock (``Queue._messages_lock``, which moto already
   has but takes only to append). moto's ``Queue.delete_message`` builds a new list of the
   messages left and puts it in place of the old one: a message sent by another thread in
   between was appended to the old list and lost (a request left PENDING with no message on its
   queue). ``receive_message`` read which FIFO groups were in flight, then chose messages: two
   pollers of one queue could both take messages of one group, out of order. Sending, receiving,
   deleting and changing visibility now hold the queue's lock; a long poll releases it while it
   waits (the lock is a ``Condition``'s).

Written as they could be offered upstream; drop this module on the day moto ships an equivalent
(``docs/local-runtime.md``). moto's own SQS tests run with it (``make moto-conformance``).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import moto.sqs.models as sqs_models
from moto.core.utils import camelcase_to_underscores
from moto.sqs.models import Queue, SQSBackend

_installed = False
_install_lock = threading.Lock()
_original_unix_time_millis: Callable[..., float] = sqs_models.unix_time_millis  # type: ignore[attr-defined]


def unix_time_millis(dt: Any = None) -> float:
    """Milliseconds since the epoch: ``time.time()`` for now, moto's own for a given datetime."""
    return time.time() * 1000.0 if dt is None else _original_unix_time_millis(dt)


class QueueAttributes(Mapping[str, Any]):
    """moto's ``Queue.attributes``, each value computed when read."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += queue.KMS_ATTRIBUTES
        self._names = list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        queue = self._queue
        if name == "Policy" and queue.policy:
            return queue.policy
        if name == "RedrivePolicy" and queue.redrive_policy:
            return json.dumps(queue.redrive_policy)
        value = getattr(queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _attributes(self: Queue) -> QueueAttributes:
    return QueueAttributes(self)


def _holding_the_queue_lock[M: Callable[..., Any]](method: M) -> M:
    """``Queue.method(self, ...)`` with the queue's lock held."""

    @functools.wraps(method)
    def locked(self: Queue, *args: Any, **kwargs: Any) -> Any:
        with self._messages_lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


def _holding_the_named_queue_lock[M: Callable[..., Any]](method: M) -> M:
    """``SQSBackend.method(self, queue_name, ...)`` with that queue's lock held."""

    @functools.wraps(method)
    def locked(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with self.get_queue(queue_name)._messages_lock:
            return method(self, queue_name, *args, **kwargs)

    return locked  # type: ignore[return-value]


def install() -> None:
    """Apply the three changes to moto's SQS (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        Queue.attributes = property(_attributes)  # type: ignore[assignment,method-assign]
        sqs_models.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]
        for name in ("add_message", "delete_message"):
            setattr(Queue, name, _holding_the_queue_lock(getattr(Queue, name)))
        for name in ("receive_message", "change_message_visibility"):
            setattr(SQSBackend, name, _holding_the_named_queue_lock(getattr(SQSBackend, name)))
        _installed = True
