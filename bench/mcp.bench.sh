#!/usr/bin/env bash
# MCP tool-call round trip (bench/mcp_exec.py): exec of `true` through
# `kled mcp` over stdio and streamable HTTP, with the official MCP Python SDK
# and with hand-written JSON-RPC, against the core's Rust API on the same
# terminal. Release builds; the SDK lives in a venv under target/.
# N (default 500) round trips each; KLED_BENCH_N overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust
ensure_packages python3 python3-venv
N=${KLED_BENCH_N:-500}

log "release builds: kled and the Rust baseline (core/examples/exec_baseline.rs)"
cargo build --release --locked -p kled-cli
cargo build --release --locked -p kled-core --example exec_baseline

VENV=target/mcp-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import mcp' 2>/dev/null || "$VENV/bin/pip" install -q "mcp>=2,<3"

log "bench/mcp_exec.py ($N round trips each)"
"$VENV/bin/python" bench/mcp_exec.py target/release/kled target/release/examples/exec_baseline "$N"
