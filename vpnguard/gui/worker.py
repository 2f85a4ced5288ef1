"""Run blocking work off the GUI thread: ``run_task(func, on_success, on_error)``.

OnionShare-style success/error signals, Picard-style ``run_task`` on a
thread pool. ``func`` receives a ``progress(*args)`` callable that is safe to
call from any thread (the leak check calls it from its own worker threads);
every callback runs on the GUI thread. Tests pass :class:`SyncPool`, which
runs each task at once on the calling thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

Progress = Callable[..., None]


class Pool(Protocol):
    def start(self, runnable: QRunnable) -> None: ...


class SyncPool:
    """A pool that runs each task immediately, on the calling thread (tests)."""

    def start(self, runnable: QRunnable) -> None:
        runnable.run()


class _Signals(QObject):
    success = Signal(object)
    error = Signal(object)
    progress = Signal(object)


class _Task(QRunnable):
    def __init__(self, func: Callable[[Progress], Any], signals: _Signals) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it until its signals were delivered
        self._func = func
        self._signals = signals

    def run(self) -> None:
        def progress(*args: Any) -> None:
            self._signals.progress.emit(args)

        try:
            result = self._func(progress)
        except BaseException as exc:  # delivered to on_error, never lost in a thread
            log.debug("task failed", exc_info=True)
            self._signals.error.emit(exc)
        else:
            self._signals.success.emit(result)


class TaskRunner(QObject):
    """Starts tasks and keeps them alive until their result reached the GUI thread."""

    busy_changed = Signal(bool)

    def __init__(self, pool: Pool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool: Pool = pool if pool is not None else QThreadPool.globalInstance()
        self._live: set[tuple[_Task, _Signals]] = set()

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def run_task(
        self,
        func: Callable[[Progress], Any],
        on_success: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        on_progress: Callable[..., None] | None = None,
    ) -> None:
        signals = _Signals()  # created here: lives on the GUI thread, so delivery is queued
        task = _Task(func, signals)
        entry = (task, signals)

        def finish(callback: Callable[[Any], None], value: Any) -> None:
            self._live.discard(entry)
            if not self._live:
                self.busy_changed.emit(False)
            callback(value)

        signals.success.connect(lambda r: finish(on_success, r))
        signals.error.connect(lambda e: finish(on_error, e))
        if on_progress is not None:
            signals.progress.connect(lambda args: on_progress(*args))
        was_idle = not self._live
        self._live.add(entry)
        if was_idle:
            self.busy_changed.emit(True)
        self._pool.start(task)
