"""moto's Step Functions (5.2.5) interpreter keeps no thread that has ended.

Each execution (``ExecutionWorker.start``), each program's evaluation, each state run under a timeout, each ``Map``
iteration and ``Parallel`` branch is a thread that the interpreter (taken from LocalStack) appends to a module-level
list, ``moto.stepfunctions.parser.utils.TMP_THREADS``, which nothing in moto reads or empties. Under Python 3.13 a
thread's stack is freed when the thread is joined or its handle let go; a thread held in that list keeps its stack
(8 MiB) and guard page mapped after it ended. A fault run starting thousands of executions reached the kernel's limit
of memory maps per process (``vm.max_map_count``, 65,530: about 32,000 threads) with 58 threads alive, and from then on
every new thread failed ("can't start new thread"): the embedded AWS stopped answering.

:func:`install` gives each module of the interpreter that appends to it a list that lets go of the threads that have
ended each time one is added (as ``socketserver``'s list of request threads does), the threads still running kept.
Written as it could be offered upstream (not keeping the threads at all); drop this module the day moto lets them go
(``docs/local-runtime.md``).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

# the interpreter's modules that append to TMP_THREADS (each bound the list's name when it was imported)
APPENDING = (
    "moto.stepfunctions.parser.utils",
    "moto.stepfunctions.parser.backend.execution_worker",
    "moto.stepfunctions.parser.asl.component.program.program",
    "moto.stepfunctions.parser.asl.component.test_state.program.test_state_program",
    "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback",
)

_installed = False
_install_lock = threading.Lock()


class LiveThreads(list[threading.Thread]):
    """The threads still running: those that have ended are let go each time one is added."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, thread: threading.Thread) -> None:
        with self._lock:
            self[:] = [running for running in self if running.is_alive()]
            super().append(thread)


def install() -> None:
    """Have moto's Step Functions interpreter hold only the threads still running (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        live = LiveThreads()
        for name in APPENDING:
            module: Any = importlib.import_module(name)
            if not isinstance(getattr(module, "TMP_THREADS", None), list):
                raise RuntimeError(f"{name} has no TMP_THREADS list: moto changed, see this module's docstring")
            live.extend(thread for thread in module.TMP_THREADS if thread.is_alive() and thread not in live)
            module.TMP_THREADS = live
        _installed = True
