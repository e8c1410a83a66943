"""`kled mcp` driven by the official MCP Python SDK, over stdio and over
streamable HTTP, against real local terminals."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from conftest import cli, process_gone, text_of
from mcp.shared.exceptions import MCPError

pytestmark = pytest.mark.anyio

TOOLS = {
    "create_terminal",
    "list_terminals",
    "start_terminal",
    "stop_terminal",
    "remove_terminal",
    "exec",
    "run_code",
    "read_file",
    "write_file",
    "providers",
    "code_interpreter_run",
    "code_interpreter_files",
}
SID = "S" * 21  # a well-formed Code Interpreter id

# For each tool: arguments its input schema must accept, and arguments it must reject.
GOOD_ARGS: dict[str, dict[str, Any]] = {
    "create_terminal": {"name": "t1", "kind": "local", "options": {"env": {"A": "b"}}, "start": False},
    "list_terminals": {},
    "start_terminal": {"name": "t1"},
    "stop_terminal": {"name": "t1"},
    "remove_terminal": {"name": "t1"},
    "exec": {"terminal": "t1", "command": ["ls", "-l"], "timeout_secs": 1.5, "cwd": "/tmp", "env": {"K": "v"}},
    "run_code": {"terminal": "t1", "lang": "py", "code": "print(1)", "timeout_secs": 10},
    "read_file": {"terminal": "t1", "path": "a.txt", "offset": 0, "length": 10},
    "write_file": {"terminal": "t1", "path": "a.txt", "content": "aGk=", "encoding": "base64", "mode": "644"},
    "providers": {},
    "code_interpreter_run": {
        "lang": "py",
        "code": "print(1)",
        "args": ["a"],
        "files": [{"id": "F" * 21, "session_id": SID, "name": "in.csv"}],
        "session_id": SID,
        "timeout_secs": 30,
    },
    "code_interpreter_files": {"session_id": SID},
}
BAD_ARGS: dict[str, list[dict[str, Any]]] = {
    "create_terminal": [{}, {"name": 5}, {"name": "x", "bogus": 1}],
    "list_terminals": [{"bogus": 1}],
    "start_terminal": [{}, {"name": ["x"]}],
    "stop_terminal": [{}, {"nam": "x"}],
    "remove_terminal": [{}, {"name": None}],
    "exec": [{"terminal": "t1"}, {"terminal": "t1", "command": 5}, {"terminal": "t1", "command": "x", "env": "A=b"}],
    "run_code": [{"terminal": "t1", "lang": "py"}, {"terminal": "t1", "code": "x"}],
    "read_file": [{"terminal": "t1"}, {"terminal": "t1", "path": "x", "offset": "zero"}],
    "write_file": [{"terminal": "t1", "path": "x"}, {"terminal": "t1", "path": "x", "content": "y", "encoding": "hex"}],
    "providers": [{"bogus": True}],
    "code_interpreter_run": [
        {"lang": "py"},
        {"code": "1"},
        {"lang": "py", "code": "1", "files": [{"id": "x"}]},
        {"lang": "py", "code": "1", "files": [{"id": "x", "session_id": "y", "name": "z", "bogus": 1}]},
        {"lang": "py", "code": "1", "terminal": "t1"},
    ],
    "code_interpreter_files": [{}, {"session_id": 5}],
}


async def make(c: Any, name: str, **kw: Any) -> dict[str, Any]:
    r = await c.call_tool("create_terminal", {"name": name, **kw})
    assert not r.is_error, text_of(r)
    return dict(r.structured_content)


async def run(c: Any, terminal: str, command: Any, **kw: Any) -> dict[str, Any]:
    r = await c.call_tool("exec", {"terminal": terminal, "command": command, **kw})
    assert not r.is_error, text_of(r)
    return dict(r.structured_content)


async def test_initialize_and_tool_schemas(connect: Any) -> None:
    async with connect(mode="legacy") as c:
        init = c.session.initialize_result
        assert init is not None
        assert init.server_info.name == "kled"
        assert init.capabilities.tools is not None
        assert "terminal" in (init.instructions or "")
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        schema = tool.input_schema
        assert schema["type"] == "object", name
        jsonschema.Draft202012Validator.check_schema(schema)
        assert tool.output_schema is not None, name
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        assert tool.description and len(tool.description) > 40, name
        for prop, spec in schema.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{prop} has no description"
        validator = jsonschema.Draft202012Validator(schema)
        validator.validate(GOOD_ARGS[name])
        for bad in BAD_ARGS[name]:
            assert not validator.is_valid(bad), f"{name} schema accepts {bad}"
    assert set(tools["exec"].input_schema["required"]) == {"terminal", "command"}
    assert tools["list_terminals"].annotations.read_only_hint is True
    assert tools["remove_terminal"].annotations.destructive_hint is True


async def test_bad_arguments_are_tool_errors(connect: Any, home: str) -> None:
    async with connect() as c:
        await make(c, "t1")
        for name, bads in BAD_ARGS.items():
            for bad in bads:
                r = await c.call_tool(name, bad)
                assert r.is_error, f"{name}({bad}) -> {text_of(r)}"
                assert "failed to deserialize parameters" in text_of(r), text_of(r)
        # Values the schema allows but kled refuses are tool errors too, in plain words.
        checks: list[tuple[str, dict[str, Any], str]] = [
            ("exec", {"terminal": "t1", "command": "true", "timeout_secs": -1}, "positive number of seconds"),
            ("exec", {"terminal": "t1", "command": ""}, "empty command"),
            ("exec", {"terminal": "t1", "command": "x", "env": {"A=B": "c"}}, "environment variable"),
            ("create_terminal", {"name": "no spaces"}, "name"),
            ("create_terminal", {"name": "t1"}, "already exists"),
            ("create_terminal", {"name": "t2", "kind": "warp-drive"}, "warp-drive"),
            ("run_code", {"terminal": "t1", "lang": "cobol", "code": "x"}, "cobol"),
            ("write_file", {"terminal": "t1", "path": "x", "content": "!!", "encoding": "base64"}, "base64"),
            ("write_file", {"terminal": "t1", "path": "x", "content": "y", "mode": "999"}, "octal"),
            ("read_file", {"terminal": "t1", "path": "no/such/file"}, "no/such/file"),
        ]
        for name, args, needle in checks:
            r = await c.call_tool(name, args)
            assert r.is_error, f"{name}({args}) -> {text_of(r)}"
            assert needle in text_of(r), f"{name}({args}): {text_of(r)!r} lacks {needle!r}"
            assert r.structured_content is None
        # An unknown tool is a protocol error (-32602), as the MCP spec says.
        with pytest.raises(MCPError):
            await c.call_tool("no_such_tool", {})
        # The server survived all of it.
        assert (await run(c, "t1", "echo still here"))["stdout"] == "still here\n"


async def test_unknown_terminal_lists_the_known_ones(connect: Any) -> None:
    async with connect() as c:
        r = await c.call_tool("exec", {"terminal": "ghost", "command": "true"})
        assert r.is_error
        assert "no terminals exist yet" in text_of(r) and "create_terminal" in text_of(r)
        await make(c, "alpha")
        await make(c, "beta", start=False)
        for tool, args in [
            ("exec", {"terminal": "ghost", "command": "true"}),
            ("run_code", {"terminal": "ghost", "lang": "sh", "code": "true"}),
            ("read_file", {"terminal": "ghost", "path": "x"}),
            ("write_file", {"terminal": "ghost", "path": "x", "content": ""}),
            ("start_terminal", {"name": "ghost"}),
            ("stop_terminal", {"name": "ghost"}),
            ("remove_terminal", {"name": "ghost"}),
        ]:
            r = await c.call_tool(tool, args)
            assert r.is_error, tool
            t = text_of(r)
            assert '"ghost"' in t and "alpha (local, running)" in t and "beta (local, created)" in t, t
            assert r.structured_content is None


async def test_lifecycle(connect: Any, home: str) -> None:
    async with connect() as c:
        out = await make(c, "life", start=False, options={"env": {"GREETING": "hello"}})
        assert out["terminal"]["state"] == "created"
        assert out["terminal"]["options"]["env"] == {"GREETING": "hello"}
        r = await c.call_tool("exec", {"terminal": "life", "command": "true"})
        assert r.is_error and "start_terminal" in text_of(r), text_of(r)

        r = await c.call_tool("start_terminal", {"name": "life"})
        assert not r.is_error and r.structured_content["terminal"]["state"] == "running"
        r = await c.call_tool("start_terminal", {"name": "life"})  # idempotent
        assert not r.is_error
        assert (await run(c, "life", "echo $GREETING"))["stdout"] == "hello\n"

        listed = (await c.call_tool("list_terminals", {})).structured_content
        assert [(t["name"], t["kind"], t["state"]) for t in listed["terminals"]] == [("life", "local", "running")]
        assert listed["problems"] == []

        r = await c.call_tool("stop_terminal", {"name": "life"})
        assert not r.is_error and r.structured_content["terminal"]["state"] == "stopped"
        r = await c.call_tool("exec", {"terminal": "life", "command": "true"})
        assert r.is_error and 'terminal "life" is stopped' in text_of(r)
        assert 'start_terminal with {"name": "life"}' in text_of(r)
        r = await c.call_tool("start_terminal", {"name": "life"})
        assert not r.is_error

        r = await c.call_tool("remove_terminal", {"name": "life"})
        assert not r.is_error and r.structured_content == {"removed": "life"}
        listed = (await c.call_tool("list_terminals", {})).structured_content
        assert listed["terminals"] == []
        assert "No terminals" in text_of(await c.call_tool("list_terminals", {}))
    assert json.loads(cli(home, "terminal", "list", "--json").stdout) == []


async def test_exec(connect: Any) -> None:
    async with connect() as c:
        await make(c, "ex")
        r = await c.call_tool("exec", {"terminal": "ex", "command": "echo out; echo err >&2; exit 3"})
        assert not r.is_error  # a non-zero exit is a result
        s = r.structured_content
        assert (s["stdout"], s["stderr"], s["exit_code"], s["signal"], s["timed_out"]) == ("out\n", "err\n", 3, None, False)
        assert (s["stdout_bytes"], s["stdout_cut_bytes"]) == (4, 0)
        assert text_of(r).startswith("exit code 3 in ")
        assert "--- stdout ---\nout\n--- stderr ---\nerr\n" in text_of(r)

        s = await run(c, "ex", ["printf", "%s|", "a b", "$HOME", "*"])  # argv: no shell
        assert s["stdout"] == "a b|$HOME|*|"
        s = await run(c, "ex", ["no-such-program-kled"])
        assert s["exit_code"] == 127 and "no-such-program-kled" in s["stderr"]

        s = await run(c, "ex", "pwd; echo $A$B; cat", cwd="/tmp", env={"A": "1", "B": "2"}, stdin="fed\n")
        assert s["stdout"] == "/tmp\n12\nfed\n"

        s = await run(c, "ex", "kill -9 $$")
        assert (s["exit_code"], s["signal"]) == (None, 9)
        assert "killed by signal 9" in text_of(await c.call_tool("exec", {"terminal": "ex", "command": "kill -9 $$"}))

        started = time.monotonic()
        s = await run(c, "ex", "echo before; sleep 30", timeout_secs=1)
        assert s["timed_out"] and s["exit_code"] is None and s["stdout"] == "before\n"
        assert time.monotonic() - started < 10
        r = await c.call_tool("exec", {"terminal": "ex", "command": "sleep 5", "timeout_secs": 0.3})
        assert "timed out after" in text_of(r) and "was killed" in text_of(r)

        s = await run(c, "ex", "true")
        assert s["stdout"] == "" and s["exit_code"] == 0
        assert "(no output)" in text_of(await c.call_tool("exec", {"terminal": "ex", "command": "true"}))


async def test_output_is_capped_for_models(connect: Any) -> None:
    async with connect() as c:
        await make(c, "big")
        r = await c.call_tool("exec", {"terminal": "big", "command": "seq 1 200000; seq 1 50000 >&2"})
        assert not r.is_error
        s = r.structured_content
        total = len("".join(f"{i}\n" for i in range(1, 200001)))
        assert s["stdout_bytes"] == total
        assert s["stdout_cut_bytes"] == total - 2 * 16384
        assert s["stdout"].startswith("1\n2\n3\n")
        assert s["stdout"].endswith("199999\n200000\n")
        note = f"[kled cut {total - 2 * 16384} bytes from the middle of stdout: it was {total} bytes; shown are the first 16384 and the last 16384 bytes]"
        assert note in s["stdout"]
        assert len(s["stdout"].encode()) < 2 * 16384 + 300
        assert s["stderr"].endswith("49999\n50000\n") and s["stderr_cut_bytes"] > 0
        assert note in text_of(r)
        assert len(text_of(r)) < 4 * 16384 + 1000

        # Multi-byte characters are cut on character boundaries.
        s = await run(c, "big", "python3 -c 'print(\"é\" * 40000)'")
        assert "\ufffd" not in s["stdout"] and s["stdout_cut_bytes"] > 0

        # The tail is the real end even far past the core's 16 MiB default cap.
        s = await run(c, "big", "head -c 20000000 /dev/zero | tr '\\0' a; echo; echo THE-END")
        assert s["stdout_bytes"] == 20000000 + 1 + 8
        assert s["stdout"].endswith("THE-END\n") and not s["output_limit_reached"]


async def test_progress_notifications(connect: Any) -> None:
    async with connect() as c:
        await make(c, "prog")
        seen: list[tuple[float, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, message))

        r = await c.call_tool(
            "exec",
            {"terminal": "prog", "command": "echo step-one; sleep 1.5; echo step-two; sleep 1.5"},
            progress_callback=on_progress,
        )
        assert not r.is_error and r.structured_content["stdout"] == "step-one\nstep-two\n"
        assert len(seen) >= 2, seen
        progresses = [p for p, _ in seen]
        assert progresses == sorted(progresses) and len(set(progresses)) == len(progresses)
        assert all(m and "running for" in m for _, m in seen)
        assert "last line: step-one" in (seen[0][1] or "")

        seen.clear()
        r = await c.call_tool(
            "run_code", {"terminal": "prog", "lang": "sh", "code": "sleep 2.2; echo done"}, progress_callback=on_progress
        )
        assert r.structured_content["stdout"] == "done\n"
        assert len(seen) >= 2 and all("running for" in (m or "") for _, m in seen)


async def test_cancel_kills_the_command(connect: Any, home: str) -> None:
    async with connect() as c:
        await make(c, "cancel")
        work = Path(home) / "work" / "cancel"
        command = "echo $$ > shell.pid; sleep 300 & echo $! > child.pid; wait"
        started = time.monotonic()
        with anyio.move_on_after(2) as scope:
            await c.call_tool("exec", {"terminal": "cancel", "command": command})
        assert scope.cancelled_caught, "the exec returned before it was cancelled"
        pids = [int((work / f).read_text()) for f in ("shell.pid", "child.pid")]
        deadline = time.monotonic() + 10
        while not all(process_gone(p) for p in pids) and time.monotonic() < deadline:
            await anyio.sleep(0.1)
        assert all(process_gone(p) for p in pids), f"still running after cancel: {pids}"
        assert time.monotonic() - started < 12
        # The connection goes on working.
        assert (await run(c, "cancel", "echo alive"))["stdout"] == "alive\n"

        # run_code is cancelled the same way.
        with anyio.move_on_after(2) as scope:
            await c.call_tool("run_code", {"terminal": "cancel", "lang": "sh", "code": "echo $$ > code.pid; exec sleep 300"})
        assert scope.cancelled_caught
        pid = int((work / "code.pid").read_text())
        deadline = time.monotonic() + 10
        while not process_gone(pid) and time.monotonic() < deadline:
            await anyio.sleep(0.1)
        assert process_gone(pid), f"run_code's program {pid} still runs after cancel"


async def test_run_code(connect: Any) -> None:
    async with connect() as c:
        await make(c, "code")
        r = await c.call_tool("run_code", {"terminal": "code", "lang": "py", "code": "import sys\nprint(6 * 7)\nsys.exit(4)"})
        assert not r.is_error
        s = r.structured_content
        assert (s["stdout"], s["exit_code"]) == ("42\n", 4)
        s = (await c.call_tool("run_code", {"terminal": "code", "lang": "bash", "code": "echo ${BASH_VERSION%%.*} >&2"})).structured_content
        assert s["exit_code"] == 0 and s["stderr"].strip().isdigit()
        r = await c.call_tool("run_code", {"terminal": "code", "lang": "python", "code": "import time; time.sleep(10)", "timeout_secs": 0.5})
        assert r.structured_content["timed_out"]


async def test_files(connect: Any, home: str) -> None:
    async with connect() as c:
        await make(c, "files")
        r = await c.call_tool("write_file", {"terminal": "files", "path": "dir/sub/hello.txt", "content": "héllo\nworld\n"})
        assert not r.is_error and r.structured_content["bytes_written"] == len("héllo\nworld\n".encode())
        assert (Path(home) / "work" / "files" / "dir/sub/hello.txt").read_text() == "héllo\nworld\n"
        r = await c.call_tool("read_file", {"terminal": "files", "path": "dir/sub/hello.txt"})
        s = r.structured_content
        assert (s["content"], s["encoding"], s["size"], s["cut_bytes"]) == ("héllo\nworld\n", "utf-8", 13, 0)
        assert "héllo" in text_of(r)
        s = (await c.call_tool("read_file", {"terminal": "files", "path": "dir/sub/hello.txt", "offset": 7, "length": 3})).structured_content
        assert (s["content"], s["offset"]) == ("wor", 7)

        await c.call_tool("write_file", {"terminal": "files", "path": "run.sh", "content": "#!/bin/sh\necho ran\n", "mode": "755"})
        assert (await run(c, "files", "stat -c %a run.sh; ./run.sh"))["stdout"] == "755\nran\n"

        blob = bytes(range(256)) * 4
        r = await c.call_tool(
            "write_file", {"terminal": "files", "path": "/tmp/kled-mcp-blob-" + Path(home).name, "content": base64.b64encode(blob).decode(), "encoding": "base64"}
        )
        assert not r.is_error
        s = (await c.call_tool("read_file", {"terminal": "files", "path": "/tmp/kled-mcp-blob-" + Path(home).name})).structured_content
        assert s["encoding"] == "base64" and base64.b64decode(s["content"]) == blob
        Path("/tmp/kled-mcp-blob-" + Path(home).name).unlink()

        big = "".join(f"line {i}\n" for i in range(20000))
        await c.call_tool("write_file", {"terminal": "files", "path": "big.txt", "content": big})
        r = await c.call_tool("read_file", {"terminal": "files", "path": "big.txt"})
        s = r.structured_content
        assert s["size"] == len(big) and s["cut_bytes"] == len(big) - 2 * 16384
        assert s["content"].startswith("line 0\n") and s["content"].endswith("line 19999\n")
        assert "kled cut" in s["content"] and "middle of the file" in s["content"]


async def test_providers(connect: Any) -> None:
    async with connect() as c:
        r = await c.call_tool("providers", {})
        assert not r.is_error
        kinds = {p["kind"]: p for p in r.structured_content["providers"]}
        assert kinds["local"]["available"] is True
        assert {"local", "container", "gvisor", "kata", "neovim"} <= set(kinds)
        for p in kinds.values():
            assert p["available"] or p["reason"], p
        assert "local: available" in text_of(r)


async def test_terminals_are_shared_with_the_cli(connect: Any, home: str) -> None:
    cli(home, "terminal", "create", "from-cli")
    async with connect() as c:
        listed = (await c.call_tool("list_terminals", {})).structured_content
        assert [t["name"] for t in listed["terminals"]] == ["from-cli"]
        assert (await run(c, "from-cli", "echo via mcp"))["stdout"] == "via mcp\n"
        await make(c, "from-mcp")
    names = {t["name"]: t["state"] for t in json.loads(cli(home, "terminal", "list", "--json").stdout)}
    assert names == {"from-cli": "running", "from-mcp": "running"}
    assert cli(home, "terminal", "exec", "from-mcp", "echo", "via", "cli").stdout == "via cli\n"
