"""kled's exceptions: one class per kind of core error, all under KledError."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Optional, Tuple

if TYPE_CHECKING:
    from ._kled import ExecResult


class KledError(Exception):
    """Base class of every error kled raises.

    ``kind`` names the core's error kind ("not_found", "already_exists",
    "invalid_argument", "runtime_unavailable", "invalid_state", "timeout",
    "agent", "io", "config"); the message says what to do about it.

    ``hint`` is the next step when kled knows one, in this module's terms
    (e.g. ``start it with Manager.get_terminal("dev").start()``), else None;
    the message ends with it too. ``__cause__`` is the error's cause when
    kled has one (an ``OSError`` with ``errno`` for an OS error).
    """

    kind: str = "error"
    hint: Optional[str] = None

    def __init__(self, message: str, *args: Any) -> None:
        super().__init__(message, *args)

    @property
    def message(self) -> str:
        """The error's message."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return self.message


class NotFoundError(KledError, LookupError):
    """No terminal (or file) by that name."""

    kind = "not_found"


class AlreadyExistsError(KledError):
    """A terminal by that name exists already."""

    kind = "already_exists"


class InvalidArgumentError(KledError, ValueError):
    """A bad name, option, language, path or request."""

    kind = "invalid_argument"


class RuntimeUnavailableError(KledError):
    """The runtime (or a program it needs) is not available on this machine."""

    kind = "runtime_unavailable"


class InvalidStateError(KledError):
    """The terminal is not in a state that allows the operation (e.g. not started)."""

    kind = "invalid_state"


class TimeoutError(KledError, builtins.TimeoutError):
    """A deadline passed before an operation finished (not a command's own
    ``timeout``: that is reported in ``ExecResult.timed_out``)."""

    kind = "timeout"


class AgentError(KledError):
    """The terminal's agent or engine broke the conversation (crashed, vanished)."""

    kind = "agent"


class IoError(KledError, OSError):
    """A file-system or OS error on the host."""

    kind = "io"


class ConfigError(KledError):
    """The configuration file, dict or environment is wrong."""

    kind = "config"


class CommandError(KledError):
    """Raised by ``ExecResult.check()``: the command exited non-zero, was
    killed by a signal, or timed out. ``result`` is its ExecResult."""

    kind = "invalid_state"

    def __init__(self, message: str, result: ExecResult) -> None:
        super().__init__(message, result)
        self.result: ExecResult = result

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.message, self.result))


__all__ = [
    "KledError",
    "NotFoundError",
    "AlreadyExistsError",
    "InvalidArgumentError",
    "RuntimeUnavailableError",
    "InvalidStateError",
    "TimeoutError",
    "AgentError",
    "IoError",
    "ConfigError",
    "CommandError",
]
