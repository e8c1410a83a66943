"""The Code Interpreter tools (code_interpreter_run, code_interpreter_files) over stdio and streamable HTTP:
clear errors when the service cannot be used, and a real round trip against `kled serve codeapi` on gVisor
sandboxes (the `codeapi` fixture starts it; skipped without gVisor, failed under KLED_REQUIRE_ENGINE=1)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from conftest import CodeApi, text_of

pytestmark = pytest.mark.anyio


def dead_url() -> tuple[str, str]:
    """A base URL on which nothing listens (a port bound, then closed), and its host:port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{s.getsockname()[1]}"
    return f"http://{addr}/v1", addr


async def code_run(c: Any, **args: Any) -> dict[str, Any]:
    r = await c.call_tool("code_interpreter_run", args)
    assert not r.is_error, text_of(r)
    return dict(r.structured_content)


async def test_unreachable_service_is_a_clear_tool_error(connect: Any) -> None:
    url, addr = dead_url()
    async with connect(env={"LIBRECHAT_CODE_BASEURL": url, "LIBRECHAT_CODE_API_KEY": "secret-key-123"}) as c:
        started = time.monotonic()
        for name, args in [
            ("code_interpreter_run", {"lang": "py", "code": "print(1)"}),
            ("code_interpreter_files", {"session_id": "S" * 21}),
        ]:
            r = await c.call_tool(name, args)
            assert r.is_error, f"{name}: {text_of(r)}"
            t = text_of(r)
            assert "LIBRECHAT_CODE_BASEURL" in t and addr in t, t
            assert "secret-key-123" not in t, t
            assert r.structured_content is None
        assert time.monotonic() - started < 10
        # Refused before any request: a bad id, an unknown language, a bad timeout.
        checks: list[tuple[str, dict[str, Any], str]] = [
            ("code_interpreter_files", {"session_id": "../../etc"}, "is not a Code Interpreter id"),
            ("code_interpreter_run", {"lang": "py", "code": "1", "session_id": "nope"}, "is not a Code Interpreter id"),
            (
                "code_interpreter_run",
                {"lang": "py", "code": "1", "files": [{"id": "../x", "session_id": "S" * 21, "name": "a"}]},
                "is not a Code Interpreter id",
            ),
            ("code_interpreter_run", {"lang": "cobol", "code": "1"}, "cobol"),
            ("code_interpreter_run", {"lang": "py", "code": "1", "timeout_secs": -1}, "positive number of seconds"),
        ]
        for name, args, needle in checks:
            r = await c.call_tool(name, args)
            assert r.is_error and needle in text_of(r), f"{name}({args}): {text_of(r)!r}"


async def test_round_trip_against_kled_serve_codeapi(connect: Any, codeapi: CodeApi) -> None:
    async with connect(env=codeapi.env()) as c:
        # A run that writes a file: it comes back with the session, ready to pass on.
        r = await c.call_tool(
            "code_interpreter_run",
            {"lang": "py", "code": "open('data.csv', 'w').write('a,b\\n1,2\\n3,4\\n')\nprint('wrote')"},
        )
        assert not r.is_error, text_of(r)
        first = r.structured_content
        assert (first["stdout"], first["stderr"], first["exit_code"]) == ("wrote\n", "", 0)
        sid = first["session_id"]
        assert len(sid) == 21
        assert [(f["name"], f["session_id"]) for f in first["files"]] == [("data.csv", sid)]
        assert '"files": [{"id":' in text_of(r) and "data.csv" in text_of(r)

        # The files, passed to the next run, are in /mnt/data; args reach the program.
        read = "import sys\nrows = open('/mnt/data/data.csv').read().split()\nprint(len(rows), sys.argv[1:])"
        s = await code_run(c, lang="python", code=read, args=["x", "y z"], files=first["files"])
        assert s["stdout"] == "3 ['x', 'y z']\n", s
        # So they are given the session_id alone (kled's server keeps the session's sandbox).
        s = await code_run(c, lang="py", code=read, session_id=sid)
        assert s["stdout"] == "3 []\n" and s["session_id"] == sid, s

        r = await c.call_tool("code_interpreter_files", {"session_id": sid})
        assert not r.is_error, text_of(r)
        files = r.structured_content["files"]
        assert [(f["name"], f["id"], f["session_id"], f["size"]) for f in files] == [
            ("data.csv", first["files"][0]["id"], sid, len("a,b\n1,2\n3,4\n"))
        ]
        assert "data.csv" in text_of(r)

        # A non-zero exit is a result; long output is capped like exec's.
        s = await code_run(c, lang="bash", code="seq 1 100000; echo oops >&2; exit 3")
        assert (s["exit_code"], s["stderr"]) == (3, "oops\n")
        assert s["stdout_cut_bytes"] > 0 and "[kled cut " in s["stdout"] and s["stdout"].endswith("99999\n100000\n")
        assert len(s["stdout"].encode()) < 2 * 16384 + 300

        # A file the service does not have: NotFound, with what to do.
        gone = {"id": "G" * 21, "session_id": sid, "name": "gone.txt"}
        r = await c.call_tool("code_interpreter_run", {"lang": "py", "code": "1", "files": [gone]})
        assert r.is_error and "404" in text_of(r) and "expire" in text_of(r), text_of(r)
        r = await c.call_tool("code_interpreter_files", {"session_id": "N" * 21})
        assert r.is_error and "404" in text_of(r), text_of(r)

    # A key the service refuses: the tool error names the variable, never the key.
    async with connect(env=codeapi.env(key="wrong-key-456")) as c:
        r = await c.call_tool("code_interpreter_run", {"lang": "py", "code": "print(1)"})
        t = text_of(r)
        assert r.is_error and "401" in t and "LIBRECHAT_CODE_API_KEY" in t and "wrong-key-456" not in t, t
