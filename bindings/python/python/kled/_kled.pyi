"""Type stubs of kled's native module (kled._kled); use the names from `kled`."""

import os
from collections.abc import Awaitable, Mapping, Sequence
from types import TracebackType
from typing import Any, Dict, Iterator, List, Literal, Optional, Tuple, Type, Union, final

from typing_extensions import Self

__all__ = [
    "__version__",
    "DEFAULT_MAX_OUTPUT",
    "FORK_CHILD_SUPPORTED",
    "Manager",
    "Terminal",
    "ExecStream",
    "ExecResult",
    "ExecEvent",
    "TerminalInfo",
    "Provider",
    "DirEntry",
]

__version__: str
DEFAULT_MAX_OUTPUT: int
FORK_CHILD_SUPPORTED: bool

# Aliases for the stubs only (the module has no such names): private, so
# that stubtest and readers do not take them for runtime API.
_StrPath = Union[str, "os.PathLike[str]"]
_Command = Union[str, Sequence[_StrPath]]
_Data = Union[bytes, bytearray, memoryview, str]
_Options = Mapping[str, Any]
_TerminalState = Literal["created", "running", "stopped", "failed"]

@final
class Manager:
    """Creates, finds, lists and removes terminals."""

    def __new__(
        cls,
        state_dir: Optional[_StrPath] = None,
        config: Union[_StrPath, Mapping[str, Any], None] = None,
    ) -> Self: ...
    @property
    def state_dir(self) -> str:
        """The state directory."""
    def create_terminal(self, kind: str, name: str, options: Optional[_Options] = None) -> Terminal:
        """Creates a terminal (not started)."""
    def create_terminal_async(
        self, kind: str, name: str, options: Optional[_Options] = None
    ) -> Awaitable[Terminal]:
        """Awaitable `create_terminal`."""
    def get_terminal(self, name: str) -> Terminal:
        """The terminal named `name`; raises NotFoundError if there is none."""
    def get_terminal_async(self, name: str) -> Awaitable[Terminal]:
        """Awaitable `get_terminal`."""
    def list_terminals(self) -> List[TerminalInfo]:
        """Every terminal, sorted by name."""
    def list_terminals_async(self) -> Awaitable[List[TerminalInfo]]:
        """Awaitable `list_terminals`."""
    def remove_terminal(self, name: str) -> None:
        """Stops and deletes a terminal and its data."""
    def remove_terminal_async(self, name: str) -> Awaitable[None]:
        """Awaitable `remove_terminal`."""
    def create_bulk_terminals(
        self,
        kind: str,
        count: int,
        options: Optional[_Options] = None,
        prefix: Optional[str] = None,
        start: bool = False,
        *,
        concurrency: Optional[int] = None,
    ) -> List[Terminal]:
        """Creates PREFIX-1 .. PREFIX-count, all or nothing."""
    def create_bulk_terminals_async(
        self,
        kind: str,
        count: int,
        options: Optional[_Options] = None,
        prefix: Optional[str] = None,
        start: bool = False,
        *,
        concurrency: Optional[int] = None,
    ) -> Awaitable[List[Terminal]]:
        """Awaitable `create_bulk_terminals`."""
    def providers(self) -> List[Provider]:
        """Every runtime, whether it works here and what it needs."""

@final
class Terminal:
    """A named terminal; a context manager that starts it and removes it on exit."""

    @property
    def name(self) -> str:
        """The terminal's name."""
    @property
    def kind(self) -> str:
        """Its runtime: "local", "container", ..."""
    @property
    def state(self) -> _TerminalState:
        """The current state, read now."""
    @property
    def manager(self) -> Manager:
        """The manager this terminal belongs to."""
    def info(self) -> TerminalInfo:
        """A snapshot of the terminal's record."""
    def start(self) -> None:
        """Makes the terminal runnable. Idempotent."""
    def start_async(self) -> Awaitable[None]:
        """Awaitable `start`."""
    def stop(self) -> None:
        """Stops everything running in it; keeps its files. Idempotent."""
    def stop_async(self) -> Awaitable[None]:
        """Awaitable `stop`."""
    def remove(self) -> None:
        """Stops the terminal and deletes it and its data."""
    def remove_async(self) -> Awaitable[None]:
        """Awaitable `remove`."""
    def execute(
        self,
        cmd: _Command,
        *,
        timeout: Optional[float] = None,
        cwd: Optional[_StrPath] = None,
        env: Optional[Mapping[str, str]] = None,
        stdin: Optional[_Data] = None,
        max_output: Optional[int] = None,
        tty: Optional[Tuple[int, int]] = None,
    ) -> ExecResult:
        """Runs a command (str: shell; list: argv) and returns its result."""
    def execute_async(
        self,
        cmd: _Command,
        *,
        timeout: Optional[float] = None,
        cwd: Optional[_StrPath] = None,
        env: Optional[Mapping[str, str]] = None,
        stdin: Optional[_Data] = None,
        max_output: Optional[int] = None,
        tty: Optional[Tuple[int, int]] = None,
    ) -> Awaitable[ExecResult]:
        """Awaitable `execute`; cancelling it kills the command."""
    def exec_stream(
        self,
        cmd: _Command,
        *,
        timeout: Optional[float] = None,
        cwd: Optional[_StrPath] = None,
        env: Optional[Mapping[str, str]] = None,
        stdin: Optional[_Data] = None,
        max_output: Optional[int] = None,
        tty: Optional[Tuple[int, int]] = None,
        stdin_open: bool = False,
    ) -> ExecStream:
        """Starts a command; iterate the stream for its events."""
    def exec_stream_async(
        self,
        cmd: _Command,
        *,
        timeout: Optional[float] = None,
        cwd: Optional[_StrPath] = None,
        env: Optional[Mapping[str, str]] = None,
        stdin: Optional[_Data] = None,
        max_output: Optional[int] = None,
        tty: Optional[Tuple[int, int]] = None,
        stdin_open: bool = False,
    ) -> Awaitable[ExecStream]:
        """Awaitable `exec_stream`."""
    def run_code(
        self,
        lang: str,
        code: str,
        *,
        args: Optional[Sequence[str]] = None,
        stdin: Optional[_Data] = None,
        timeout: Optional[float] = None,
        remote: bool = False,
    ) -> ExecResult:
        """Runs a snippet with the language's interpreter or compiler.

        remote=True runs it on the Code Interpreter API (config `librechat`,
        or LIBRECHAT_CODE_BASEURL / LIBRECHAT_CODE_API_KEY) instead; the
        terminal keeps that session, so files carry over between runs.
        """
    def run_code_async(
        self,
        lang: str,
        code: str,
        *,
        args: Optional[Sequence[str]] = None,
        stdin: Optional[_Data] = None,
        timeout: Optional[float] = None,
        remote: bool = False,
    ) -> Awaitable[ExecResult]:
        """Awaitable `run_code`."""
    def read_file(self, path: _StrPath) -> bytes:
        """The whole content of a file in the terminal."""
    def read_file_async(self, path: _StrPath) -> Awaitable[bytes]:
        """Awaitable `read_file`."""
    def write_file(self, path: _StrPath, data: _Data, mode: Optional[int] = None) -> None:
        """Writes a file atomically, creating parent directories."""
    def write_file_async(self, path: _StrPath, data: _Data, mode: Optional[int] = None) -> Awaitable[None]:
        """Awaitable `write_file`."""
    def list_dir(self, path: Optional[_StrPath] = None) -> List[DirEntry]:
        """The entries of a directory (default: the working directory)."""
    def list_dir_async(self, path: Optional[_StrPath] = None) -> Awaitable[List[DirEntry]]:
        """Awaitable `list_dir`."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> Awaitable[None]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ExecResult:
    """How a command ended and what it printed."""

    def __new__(
        cls,
        stdout: Optional[_Data] = None,
        stderr: Optional[_Data] = None,
        exit_code: Optional[int] = None,
        signal: Optional[int] = None,
        timed_out: bool = False,
        truncated: bool = False,
        duration: float = 0.0,
    ) -> Self: ...
    @property
    def stdout(self) -> str:
        """stdout decoded as UTF-8 (bad bytes replaced)."""
    @property
    def stderr(self) -> str:
        """stderr decoded as UTF-8 (bad bytes replaced)."""
    @property
    def stdout_bytes(self) -> bytes:
        """stdout exactly as written."""
    @property
    def stderr_bytes(self) -> bytes:
        """stderr exactly as written."""
    @property
    def exit_code(self) -> Optional[int]:
        """The exit code; None when killed by a signal."""
    @property
    def signal(self) -> Optional[int]:
        """The signal that killed the command, if one did."""
    @property
    def timed_out(self) -> bool:
        """The timeout passed and the command was killed."""
    @property
    def truncated(self) -> bool:
        """Output past the cap was dropped."""
    @property
    def duration(self) -> float:
        """Seconds the command ran."""
    @property
    def ok(self) -> bool:
        """Exited 0 within its timeout."""
    def check(self) -> ExecResult:
        """This result if ok, else raises kled.CommandError."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class ExecEvent:
    """One step of a streamed exec: output, or the exit."""

    @property
    def kind(self) -> Literal["stdout", "stderr", "exit"]:
        """"stdout", "stderr" or "exit"."""
    @property
    def data(self) -> bytes:
        """The bytes of an output chunk (b"" for the exit)."""
    @property
    def text(self) -> str:
        """`data` decoded as UTF-8."""
    @property
    def exit_code(self) -> Optional[int]:
        """Exit code (exit events)."""
    @property
    def signal(self) -> Optional[int]:
        """Killing signal (exit events)."""
    @property
    def timed_out(self) -> bool:
        """Killed by its timeout (exit events)."""
    @property
    def truncated(self) -> bool:
        """Output past the cap was dropped (exit events)."""
    @property
    def duration(self) -> Optional[float]:
        """Seconds the command ran (exit events)."""

@final
class ExecStream:
    """A running command's events; iterate with `for` or `async for`."""

    @property
    def terminal(self) -> str:
        """The terminal the command runs in."""
    def __iter__(self) -> Iterator[ExecEvent]: ...
    def __next__(self) -> ExecEvent: ...
    def __aiter__(self) -> ExecStream: ...
    def __anext__(self) -> Awaitable[ExecEvent]: ...
    def signal(self, signum: int) -> None:
        """Sends a signal to the command's process group, also while another thread or task reads the stream."""
    def write(self, data: _Data) -> None:
        """Writes to the command's stdin (a stream started with stdin_open=True)."""
    def close_stdin(self) -> None:
        """Ends the command's stdin (EOF; on a pseudo-terminal, ^D)."""
    def resize(self, rows: int, cols: int) -> None:
        """New size for the command's pseudo-terminal (it gets SIGWINCH)."""
    def close(self) -> None:
        """Kills the command if it still runs; ends the stream."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

@final
class TerminalInfo:
    """A snapshot of a terminal's record."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> _TerminalState: ...
    @property
    def options(self) -> Dict[str, Any]: ...
    @property
    def created_at(self) -> int: ...
    @property
    def error(self) -> Optional[str]: ...

@final
class Provider:
    """A runtime, whether it works here, and what it needs."""

    @property
    def kind(self) -> str: ...
    @property
    def available(self) -> bool: ...
    @property
    def description(self) -> str: ...
    @property
    def needs(self) -> str: ...
    @property
    def reason(self) -> Optional[str]: ...
    @property
    def caps(self) -> Dict[str, bool]: ...

@final
class DirEntry:
    """An entry of Terminal.list_dir()."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> Literal["file", "dir", "symlink", "other"]: ...
    @property
    def size(self) -> int: ...
    @property
    def mode(self) -> int: ...
