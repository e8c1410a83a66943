"""One container terminal through the MCP tools (Podman, image localhost/kled-busybox).

Skipped, with the reason printed, where there is no engine socket at
/run/podman/podman.sock; KLED_REQUIRE_ENGINE=1 (set by scripts/test.sh)
turns that skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from conftest import text_of

pytestmark = pytest.mark.anyio

SOCKET = "/run/podman/podman.sock"
IMAGE = "localhost/kled-busybox"


def engine_problem() -> str | None:
    if not os.path.exists(SOCKET):
        return f"no container engine socket at {SOCKET} (run `sudo scripts/engine.sh`)"
    found = subprocess.run(["podman", "image", "exists", IMAGE], capture_output=True) if _has_podman() else None
    if found is not None and found.returncode != 0:
        return f"image {IMAGE} is missing (run `sudo scripts/engine.sh setup`)"
    return None


def _has_podman() -> bool:
    return any(os.access(os.path.join(d, "podman"), os.X_OK) for d in os.environ.get("PATH", "").split(":"))


@pytest.fixture
def engine() -> None:
    problem = engine_problem()
    if problem:
        if os.environ.get("KLED_REQUIRE_ENGINE") == "1":
            pytest.fail(f"KLED_REQUIRE_ENGINE=1 but {problem}")
        print(f"SKIP container MCP test: {problem}")
        pytest.skip(problem)


@pytest.mark.parametrize("transport", ["stdio"])
async def test_container_terminal(engine: None, connect: Any, home: str) -> None:
    name = "box-" + os.path.basename(home)[-6:].lower().replace("_", "-")
    async with connect() as c:
        r = await c.call_tool("create_terminal", {"name": name, "kind": "container", "options": {"image": IMAGE}})
        assert not r.is_error, text_of(r)
        assert r.structured_content["terminal"]["kind"] == "container"
        try:
            r = await c.call_tool("exec", {"terminal": name, "command": "echo in-box; cat /etc/hostname >/dev/null; exit 5"})
            s = r.structured_content
            assert (s["stdout"], s["exit_code"]) == ("in-box\n", 5), text_of(r)
            r = await c.call_tool("write_file", {"terminal": name, "path": "/tmp/note.txt", "content": "boxed\n"})
            assert not r.is_error, text_of(r)
            r = await c.call_tool("read_file", {"terminal": name, "path": "/tmp/note.txt"})
            assert r.structured_content["content"] == "boxed\n"
            r = await c.call_tool("run_code", {"terminal": name, "lang": "sh", "code": "echo $((6 * 7))"})
            assert r.structured_content["stdout"] == "42\n", text_of(r)
            listed = (await c.call_tool("list_terminals", {})).structured_content["terminals"]
            assert [(t["name"], t["kind"], t["state"]) for t in listed] == [(name, "container", "running")]
            r = await c.call_tool("stop_terminal", {"name": name})
            assert r.structured_content["terminal"]["state"] == "stopped", text_of(r)
        finally:
            r = await c.call_tool("remove_terminal", {"name": name})
        assert not r.is_error, text_of(r)
        assert (await c.call_tool("list_terminals", {})).structured_content["terminals"] == []
