"""kled: named, long-lived terminals for programs, people and AI agents.

A terminal is an environment with a name in which you run commands and code;
it outlives the process that created it, so the ``kled`` command, a Python
program and a C program can all use the same one::

    import kled

    m = kled.Manager()
    with m.create_terminal("local", "dev") as t:      # started; removed on exit
        r = t.execute("echo hello; ls nope")
        print(r.exit_code, r.stdout, r.stderr)
        print(t.run_code("python", "print(6 * 7)").check().stdout)

Blocking methods release the GIL and are interrupted by Ctrl-C (which kills
the command they ran). Each has an ``..._async`` twin for asyncio, on the
same handles: ``await t.execute_async("make")``.
"""

from ._errors import (
    AgentError,
    AlreadyExistsError,
    CommandError,
    ConfigError,
    InvalidArgumentError,
    InvalidStateError,
    IoError,
    KledError,
    NotFoundError,
    RuntimeUnavailableError,
    TimeoutError,
)
from ._kled import (
    DEFAULT_MAX_OUTPUT,
    FORK_CHILD_SUPPORTED,
    DirEntry,
    ExecEvent,
    ExecResult,
    ExecStream,
    Manager,
    Provider,
    Terminal,
    TerminalInfo,
    __version__,
)

__all__ = [
    "Manager",
    "Terminal",
    "ExecResult",
    "ExecStream",
    "ExecEvent",
    "TerminalInfo",
    "Provider",
    "DirEntry",
    "DEFAULT_MAX_OUTPUT",
    "FORK_CHILD_SUPPORTED",
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
    "__version__",
]
