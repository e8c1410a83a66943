"""Fixtures for driving `kled mcp` with the official MCP Python SDK.

Every test gets a private KLED_HOME and a fresh server process (stdio: the
SDK spawns `kled mcp`; http: we spawn `kled mcp --http 127.0.0.1:0` and read
the URL it prints). Terminals left behind are removed with the kled CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parents[3]
KLED = os.environ.get("KLED_CLI") or str(REPO / "target" / "debug" / "kled")
TRANSPORTS = ["stdio", "http"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def kled_bin() -> str:
    if not os.access(KLED, os.X_OK):
        pytest.fail(f"{KLED} is missing: build it with `cargo build -p kled-cli` (or set KLED_CLI)")
    return KLED


def cli(home: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the kled CLI on the given state dir."""
    return subprocess.run(
        [KLED, *args], env={**os.environ, "KLED_HOME": home}, capture_output=True, text=True, check=check, timeout=120
    )


@pytest.fixture
def home(kled_bin: str) -> Iterator[str]:
    """A private state dir; every terminal still in it at the end is removed."""
    d = tempfile.mkdtemp(prefix="kled-mcp-test-", dir="/tmp")
    try:
        yield d
    finally:
        listed = cli(d, "terminal", "list", "--json", check=False)
        names = [t["name"] for t in json.loads(listed.stdout or "[]")] if listed.returncode == 0 else []
        for name in names:
            cli(d, "terminal", "rm", name, check=False)
        shutil.rmtree(d, ignore_errors=True)


class HttpServer:
    def __init__(self, home: str, log: Path, env: dict[str, str] | None = None):
        self.log = log
        self._log_file = open(log, "w")
        self.proc = subprocess.Popen(
            [KLED, "mcp", "--http", "127.0.0.1:0"],
            env={**os.environ, **(env or {}), "KLED_HOME": home},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", first)
        if not m:
            self.proc.kill()
            raise AssertionError(f"kled mcp --http did not announce its URL: {first!r}{self.proc.stderr.read()}")
        self.url = m.group(1)
        self._log_file.write(first)

    def stop(self) -> int:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self._log_file.write(err or "")
        self._log_file.close()
        return self.proc.returncode


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(
    transport: str, home: str, tmp_path: Path
) -> Iterator[Callable[..., contextlib.AbstractAsyncContextManager[Client]]]:
    """connect(mode="auto", env=None) -> an async context manager giving a connected Client; env adds
    variables to the server's environment."""
    servers: list[HttpServer] = []
    log = tmp_path / "server.log"

    @contextlib.asynccontextmanager
    async def open_client(mode: str = "auto", env: dict[str, str] | None = None, **kw: Any) -> AsyncIterator[Client]:
        if transport == "stdio":
            params = StdioServerParameters(
                command=KLED, args=["mcp"], env={**os.environ, **(env or {}), "KLED_HOME": home}
            )
            with open(log, "a") as errlog:
                async with Client(stdio_client(params, errlog=errlog), mode=mode, **kw) as c:
                    yield c
        else:
            server = HttpServer(home, log, env)
            servers.append(server)
            async with Client(server.url, mode=mode, **kw) as c:
                yield c

    try:
        yield open_client
    finally:
        for s in servers:
            rc = s.stop()
            # SIGTERM is the way to stop it: a clean exit.
            assert rc == 0, f"kled mcp --http exited {rc}; log:\n{log.read_text()}"


GVISOR = "/run/kled/gvisor.sock"


class CodeApi:
    """`kled serve codeapi` on gVisor sandboxes, in its own state dir, with a throwaway key."""

    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="kled-mcp-codeapi-", dir="/tmp")
        self.key = "mcp-test-" + os.urandom(8).hex()
        config = Path(self.home) / "config.yaml"
        config.write_text("codeapi:\n  sessions: { warm: 1, max_sandboxes: 4 }\n  rate_limit: { requests: 0 }\n")
        env = {k: v for k, v in os.environ.items() if k != "KLED_LOG"}
        env.update(KLED_HOME=str(Path(self.home) / "server"), KLED_CODEAPI_KEYS=self.key)
        self.proc = subprocess.Popen(
            [KLED, "serve", "codeapi", "--listen", "127.0.0.1:0", "--config", str(config)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()  # printed once it is ready
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", first)
        if not m:
            self.proc.kill()
            raise AssertionError(f"kled serve codeapi did not announce its URL: {first!r}{self.proc.stderr.read()}")
        self.url = m.group(1)
        self.log = [first]
        self._reader = threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True)  # type: ignore[arg-type]
        self._reader.start()

    def env(self, key: str | None = None) -> dict[str, str]:
        """The environment that points `kled mcp` at this server."""
        return {"LIBRECHAT_CODE_BASEURL": self.url, "LIBRECHAT_CODE_API_KEY": key or self.key}

    def stop(self) -> None:
        """SIGTERM: the server removes its sandboxes and exits 0."""
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._reader.join(timeout=5)
        shutil.rmtree(self.home, ignore_errors=True)
        assert rc == 0, f"kled serve codeapi exited {rc}:\n{''.join(self.log)}"


@pytest.fixture(scope="session")
def codeapi() -> Iterator[CodeApi]:
    """A real Code Interpreter API for the session; skipped (failed under KLED_REQUIRE_ENGINE=1) without gVisor."""
    if not os.path.exists(GVISOR):
        problem = f"no gVisor engine at {GVISOR} for kled serve codeapi (run `sudo scripts/engine.sh`)"
        if os.environ.get("KLED_REQUIRE_ENGINE") == "1":
            pytest.fail(f"KLED_REQUIRE_ENGINE=1 but {problem}")
        pytest.skip(problem)
    if not os.access(KLED, os.X_OK):
        pytest.fail(f"{KLED} is missing: build it with `cargo build -p kled-cli` (or set KLED_CLI)")
    server = CodeApi()
    try:
        yield server
    finally:
        server.stop()


def text_of(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


def process_gone(pid: int) -> bool:
    """True when pid no longer runs (absent, or a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")
