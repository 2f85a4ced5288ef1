"""Loggers that import :mod:`logging` only when a message is really emitted.

``import logging`` costs more than a tenth of ``vpnguard status``'s start-up
budget (it pulls in threading, traceback, string, weakref), and a normal run
logs nothing. Modules on that path call :func:`get_logger` instead of
``logging.getLogger``; the CLI calls :func:`configure` instead of
``logging.basicConfig``. A message below the level the CLI configured is
dropped without importing anything, exactly as the root logger would drop
it; anything else goes to the real ``logging.getLogger(name)``, configured
first. Without :func:`configure` (the Python API, tests) every call goes to
the real logger, so applications configure logging as usual.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any, TextIO

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40

_pending: dict[str, Any] | None = None


def configure(*, level: int, stream: TextIO, format: str) -> None:
    """``logging.basicConfig(level=, stream=, format=)``, deferred until a message is emitted."""
    global _pending
    _pending = {"level": level, "stream": stream, "format": format}
    if "logging" in sys.modules:  # someone imported it already: nothing to save
        _apply()


def _apply() -> None:
    global _pending
    import logging

    if _pending is not None:
        settings, _pending = _pending, None
        logging.basicConfig(**settings)


class LazyLogger:
    """The subset of :class:`logging.Logger` vpnguard uses, delegated on first emission."""

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def _real(self, level: int) -> logging.Logger | None:
        if _pending is not None and "logging" not in sys.modules and level < _pending["level"]:
            return None  # the root logger would drop it too
        _apply()
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self.name)
        return self._logger

    def isEnabledFor(self, level: int) -> bool:
        real = self._real(level)
        return real is not None and real.isEnabledFor(level)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        real = self._real(level)
        if real is not None:
            kwargs.setdefault("stacklevel", 2)
            real.log(level, msg, *args, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(DEBUG, msg, *args, **{"stacklevel": 3, **kwargs})

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(INFO, msg, *args, **{"stacklevel": 3, **kwargs})

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(WARNING, msg, *args, **{"stacklevel": 3, **kwargs})

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(ERROR, msg, *args, **{"stacklevel": 3, **kwargs})

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(ERROR, msg, *args, **{"exc_info": True, "stacklevel": 3, **kwargs})


def get_logger(name: str) -> LazyLogger:
    return LazyLogger(name)
