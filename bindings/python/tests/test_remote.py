"""run_code(remote=True): code run on a Code Interpreter API, here a real
`kled serve codeapi` (gVisor sandboxes) started for these tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from typing import Iterator

import pytest

import kled

KEY = "py-remote-key-7"
GVISOR = "/run/kled/gvisor.sock"


@pytest.fixture(scope="module")
def codeapi_url() -> Iterator[str]:
    if not os.path.exists(GVISOR):
        if os.environ.get("KLED_REQUIRE_ENGINE") == "1":
            pytest.fail(f"{GVISOR} is required (scripts/engine.sh setup)")
        pytest.skip(f"{GVISOR} is not served (scripts/engine.sh setup starts it)")
    cli = os.environ.get("KLED_CLI") or os.path.join(os.path.dirname(__file__), "../../../target/debug/kled")
    home = tempfile.mkdtemp(prefix="kled-py-codeapi-", dir="/tmp")
    config = os.path.join(home, "config.yaml")
    with open(config, "w") as f:
        f.write("codeapi:\n  sessions: { warm: 1, max_sandboxes: 3 }\n  rate_limit: { requests: 0 }\n")
    env = dict(os.environ, KLED_HOME=os.path.join(home, "server"), KLED_CODEAPI_KEYS=KEY)
    server = subprocess.Popen(
        [cli, "serve", "codeapi", "--listen", "127.0.0.1:0", "--config", config],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        url = next((w for w in first.split() if w.startswith("http://")), None)
        assert url, f"server did not start: {first}{server.stderr.read() if server.poll() is not None else ''}"
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        shutil.rmtree(home, ignore_errors=True)


def remote_manager(state_dir: str, url: str, key: str = KEY) -> kled.Manager:
    return kled.Manager(state_dir=state_dir, config={"librechat": {"base_url": url, "api_key": key}})


def test_remote_runs_share_the_terminals_session(state_dir: str, codeapi_url: str) -> None:
    m = remote_manager(state_dir, codeapi_url)
    t = m.create_terminal("local", "remote")  # never started: remote runs need nothing local
    r = t.run_code("python", "open('note.txt', 'w').write('kept'); print(6 * 7)", remote=True)
    assert r.stdout == "42\n"
    assert r.exit_code == 0
    r = t.run_code("py", "print(open('note.txt').read())", remote=True)
    assert r.stdout == "kept\n", r.stderr
    r = t.run_code("bash", "echo $1 >&2; exit 3", args=["to-stderr"], remote=True)
    assert (r.exit_code, r.stderr) == (3, "to-stderr\n")


def test_remote_async(state_dir: str, codeapi_url: str) -> None:
    t = remote_manager(state_dir, codeapi_url).create_terminal("local", "ra")

    async def main() -> kled.ExecResult:
        return await t.run_code_async("py", "print('async')", remote=True)

    assert asyncio.run(main()).stdout == "async\n"


def test_remote_errors_are_kled_errors(state_dir: str, codeapi_url: str) -> None:
    t = remote_manager(state_dir, codeapi_url).create_terminal("local", "re")
    with pytest.raises(kled.InvalidArgumentError, match="unknown language|unsupported language"):
        t.run_code("cobol", "x", remote=True)
    with pytest.raises(kled.InvalidArgumentError, match="no stdin"):
        t.run_code("py", "x", stdin=b"data", remote=True)
    bad = remote_manager(state_dir, codeapi_url, key="wrong").create_terminal("local", "rk")
    with pytest.raises(kled.ConfigError, match="LIBRECHAT_CODE_API_KEY") as e:
        bad.run_code("py", "1", remote=True)
    assert "wrong" not in str(e.value)


def test_unreachable_service_says_where_to_look(state_dir: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = remote_manager(state_dir, f"http://127.0.0.1:{port}/v1").create_terminal("local", "ru")
    with pytest.raises(kled.RuntimeUnavailableError, match="LIBRECHAT_CODE_BASEURL"):
        t.run_code("py", "1", remote=True)
