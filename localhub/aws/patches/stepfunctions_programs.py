"""moto's Step Functions (5.2.5) parses a state machine's definition once, not once per execution.

With ``execute_state_machine`` on, every execution's worker (``ExecutionWorker._get_evaluation_entrypoint``) runs
the definition through the ASL parser again: ANTLR's lexer and parser over the whole JSON, then the preprocessor that
builds the program's components. For one of the hub's workflows that is most of what an execution costs before its
first task is called, and a fault run starts thousands of executions of the same few definitions.

The program a definition parses to holds no state of an execution: each execution evaluates it in an ``Environment``
of its own (its stack, its variables, and the heap in which a ``Retry`` keeps its attempts, keyed by the component's
``heap_key``); a ``Map`` or ``Parallel`` state already evaluates one sub-program in several threads at once. So
:func:`install` keeps each definition's program, by the definition's text (a state machine updated to another
definition parses anew), and gives every execution of it the same one. Each component's ``heap_key`` is drawn when
the program is kept, not lazily by whichever execution reads it first, so two executions racing for it cannot each
draw their own. A definition that fails to parse is not kept: the next execution parses it again and fails as before.

Written as it could be offered upstream (a cache in ``ExecutionWorker``); drop this module the day moto keeps its
programs (``docs/local-runtime.md``).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

# how many definitions are kept (the hub deploys a handful; a test suite creates more, each once)
KEPT = 256

_installed = False
_install_lock = threading.Lock()


def _draw_heap_keys(component: Any, seen: set[int]) -> None:
    """Draw the ``heap_key`` of every component of the program now (it is drawn once, then read)."""
    stack = [component]
    while stack:
        value = stack.pop()
        if isinstance(value, list | tuple | set | frozenset):
            stack.extend(value)
            continue
        if isinstance(value, dict):
            stack.extend(value.values())
            continue
        if not isinstance(value, EvalComponent) or id(value) in seen:
            continue
        seen.add(id(value))
        _ = value.heap_key
        stack.extend(vars(value).values())


@functools.lru_cache(maxsize=KEPT)
def program_of(definition: str) -> EvalComponent:
    """The program ``definition`` parses to, parsed once (an invalid one raises, and is not kept)."""
    program, _ = AmazonStateLanguageParser.parse(definition)
    _draw_heap_keys(program, set())
    return program


def _get_evaluation_entrypoint(self: ExecutionWorker) -> EvalComponent:
    return program_of(self._evaluation_details.state_machine_details.definition)


def install() -> None:
    """Have every execution of a definition evaluate the program it was parsed to once (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        ExecutionWorker._get_evaluation_entrypoint = _get_evaluation_entrypoint  # type: ignore[method-assign]
        _installed = True
