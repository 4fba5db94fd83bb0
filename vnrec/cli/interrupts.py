"""Ctrl-C and SIGTERM end a command through Python's exceptions, so that what it holds is
released on the way out: temporary files, worker processes, a Dask cluster. SIGTERM is
raised as KeyboardInterrupt (exit status 130, as for Ctrl-C) unless a command takes it
over (the recorder's stop, the servers' shutdown).

polars, when imported, installs its own SIGINT handler with
SA_RESTART: Python's handler still runs, but a wait on a lock (a day's result from a worker
process or a cluster) is restarted instead of interrupted, so Ctrl-C is only noticed when
the wait ends, minutes later. The commands import polars lazily, so the CLI reinstalls
Python's handler right after that import, whoever makes it."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # the import system takes any object with these methods; importing
    import importlib.abc  # importlib.abc (and what it loads) was ~3 ms of every start

SIGNAL_TAKERS = ("polars",)


class _ThenRestoreInterrupts:
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        if threading.current_thread() is not threading.main_thread():
            self._inner.exec_module(module)
            return
        # A Ctrl-C while the import runs would reach the importer's handler, not Python's,
        # and be lost: it waits, blocked, until Python's handler is back.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._inner.exec_module(module)
        finally:
            # The same Python-level handler, registered with the OS again.
            signal.signal(signal.SIGINT, signal.getsignal(signal.SIGINT))
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class _WatchImport:
    """Finds `name` as the other finders do, and wraps its loader; used once."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = cast("importlib.abc.Loader", _ThenRestoreInterrupts(spec.loader))
        return spec


def install_interrupts() -> None:
    """In the CLI's process, before any command runs."""
    signal.signal(signal.SIGTERM, interrupt_on_signal)
    for name in SIGNAL_TAKERS:
        if name not in sys.modules:
            sys.meta_path.insert(0, _WatchImport(name))


def interrupt_on_signal(signum: int, _frame: FrameType | None) -> None:
    """A handler raising KeyboardInterrupt (naming the signal) in the main thread."""
    raise KeyboardInterrupt(signal.Signals(signum).name)
