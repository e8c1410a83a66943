"""MCP tool-call round trip: `exec` of `true` through `kled mcp`, over stdio
and over streamable HTTP, against the same exec through the core's Rust API
on the same local terminal. p50 and p99 over N calls (default 500), ratios
to the Rust API.

Two clients per transport:
  sdk  the official MCP Python SDK (`mcp` on PyPI): what a Python agent pays
  raw  hand-written JSON-RPC (one line per message on stdio; one POST per
       call over HTTP, the SSE reply parsed by hand): the server's own cost

Usage: python bench/mcp_exec.py KLED_BIN EXEC_BENCH_BIN [N]
(bench/mcp.bench.sh builds both in release mode and runs this.)
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

TERMINAL = "mcp-bench"
CALL = {"name": "exec", "arguments": {"terminal": TERMINAL, "command": ["true"]}}
WARMUP = 20


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(int(len(xs) * p), len(xs) - 1)]


def timed(n: int, once: Callable[[], None]) -> list[float]:
    for _ in range(WARMUP):
        once()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        once()
        out.append((time.perf_counter() - t) * 1e6)
    return out


async def atimed(n: int, once: Any) -> list[float]:
    for _ in range(WARMUP):
        await once()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await once()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def check(result: dict[str, Any]) -> None:
    sc = result.get("structuredContent") or {}
    if result.get("isError") or sc.get("exit_code") != 0:
        raise SystemExit(f"exec failed: {result}")


# ---- raw JSON-RPC over stdio ----

def raw_stdio(kled: str, env: dict[str, str], n: int) -> list[float]:
    p = subprocess.Popen([kled, "mcp"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert p.stdin and p.stdout
    seq = iter(range(1, 10**9))

    def rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
        i = next(seq)
        p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}) + "\n")
        p.stdin.flush()
        while True:
            msg = json.loads(p.stdout.readline())
            if msg.get("id") == i:
                if "error" in msg:
                    raise SystemExit(f"{method}: {msg['error']}")
                return msg["result"]

    rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}})
    p.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    p.stdin.flush()
    try:
        return timed(n, lambda: check(rpc("tools/call", CALL)))
    finally:
        p.stdin.close()
        p.wait(timeout=30)


# ---- raw JSON-RPC over streamable HTTP ----

def start_http(kled: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen([kled, "mcp", "--http", "127.0.0.1:0"], env=env, stderr=subprocess.PIPE, text=True)
    assert p.stderr
    line = p.stderr.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", line)
    if not m:
        p.kill()
        raise SystemExit(f"kled mcp --http did not start: {line}")
    return p, m.group(1)


def stop_http(p: subprocess.Popen[str]) -> None:
    p.terminate()
    p.wait(timeout=30)


def raw_http(url: str, n: int) -> list[float]:
    m = re.match(r"http://([^/]+)(/.*)", url)
    assert m
    conn = http.client.HTTPConnection(m.group(1))
    path = m.group(2)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    seq = iter(range(1, 10**9))

    def post(body: dict[str, Any]) -> dict[str, Any] | None:
        conn.request("POST", path, json.dumps(body), headers)
        r = conn.getresponse()
        data = r.read().decode()
        if r.status >= 300:
            raise SystemExit(f"HTTP {r.status}: {data}")
        if "mcp-session-id" in {k.lower() for k in r.headers.keys()}:
            headers["Mcp-Session-Id"] = r.headers["Mcp-Session-Id"]
        if not data.strip():
            return None
        if r.headers.get("Content-Type", "").startswith("text/event-stream"):
            msgs = [json.loads(l[5:]) for l in data.splitlines() if l.startswith("data:") and l[5:].strip()]
            return next(m for m in msgs if "id" in m)
        return json.loads(data)

    def rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = post({"jsonrpc": "2.0", "id": next(seq), "method": method, "params": params})
        assert reply is not None
        if "error" in reply:
            raise SystemExit(f"{method}: {reply['error']}")
        return reply["result"]

    init = rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}})
    headers["MCP-Protocol-Version"] = init["protocolVersion"]
    post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    try:
        return timed(n, lambda: check(rpc("tools/call", CALL)))
    finally:
        conn.close()


# ---- the official SDK ----

async def sdk(server: Any, n: int) -> tuple[list[float], str]:
    async with Client(server) as c:
        async def once() -> None:
            r = await c.call_tool("exec", CALL["arguments"])
            if r.is_error or (r.structured_content or {}).get("exit_code") != 0:
                raise SystemExit(f"exec failed: {r}")
        times = await atimed(n, once)
        init = c.session.initialize_result
        proto = init.protocol_version if init else "2026-07-28 (server/discover, no handshake)"
        return times, proto


def main() -> None:
    kled, exec_bench = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    home = tempfile.mkdtemp(prefix="kled-mcp-bench-", dir="/tmp")
    env = {**os.environ, "KLED_HOME": home}
    subprocess.run([kled, "terminal", "create", TERMINAL], env=env, check=True, capture_output=True)
    rows: list[tuple[str, list[float]]] = []
    notes: list[str] = []
    try:
        rust = json.loads(subprocess.run([exec_bench, home, TERMINAL, str(n)], check=True, capture_output=True, text=True).stdout)
        rows.append(("raw JSON-RPC, stdio", raw_stdio(kled, env, n)))
        times, proto = anyio.run(sdk, stdio_client(StdioServerParameters(command=kled, args=["mcp"], env=env)), n)
        rows.append(("Python SDK, stdio", times))
        notes.append(f"Python SDK over stdio negotiated {proto}")
        p, url = start_http(kled, env)
        try:
            rows.append(("raw JSON-RPC, HTTP", raw_http(url, n)))
            times, proto = anyio.run(sdk, url, n)
            rows.append(("Python SDK, HTTP", times))
            notes.append(f"Python SDK over HTTP negotiated {proto}")
        finally:
            stop_http(p)
    finally:
        subprocess.run([kled, "terminal", "rm", TERMINAL], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)

    base = rust["p50_us"]
    print(f"MCP tool call `exec` of [\"true\"] on one local terminal, {n} round trips each (p50 / p99, microseconds)")
    print(f"{'':34} {'p50':>9} {'p99':>9}  {'p50 / Rust API':>14}")
    print(f"{'kled Rust API (t.exec)':34} {base:9.0f} {rust['p99_us']:9.0f}  {1.0:13.2f}x")
    for name, xs in rows:
        p50 = pct(xs, 0.5)
        print(f"{'kled mcp, ' + name:34} {p50:9.0f} {pct(xs, 0.99):9.0f}  {p50 / base:13.2f}x")
    for note in notes:
        print(f"({note})")


if __name__ == "__main__":
    main()
