#!/usr/bin/env bash
# The MCP server (`kled mcp`, crate mcp/): drives it with the official MCP
# Python SDK over stdio and over streamable HTTP (pytest, mcp/tests/python),
# then with the official TypeScript SDK over stdio (node --test,
# mcp/tests/node), against real local terminals and one container terminal.
# Python tools live in a venv under target/, npm packages in
# mcp/tests/node/node_modules (git-ignored); nothing is installed globally
# but Debian packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_rust
ensure_packages build-essential python3 python3-venv ca-certificates
ensure_node 18 "the MCP TypeScript SDK" || exit 1

log "kled CLI (cargo build -p kled-cli)"
cargo build -p kled-cli
export KLED_CLI="$PWD/target/debug/kled"

VENV=target/mcp-venv
PY_DEPS=("mcp>=2.3,<3" "jsonschema>=4" "pytest>=8" "anyio>=4")
if ! "$VENV/bin/python" -c 'import mcp, jsonschema, pytest, anyio' 2>/dev/null; then
  log "venv $VENV: the MCP Python SDK, jsonschema, pytest"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check "${PY_DEPS[@]}"
"$VENV/bin/python" -c 'import importlib.metadata as m; print("mcp (Python SDK)", m.version("mcp"))'

log "pytest mcp/tests/python (stdio and streamable HTTP)"
rc=0
timeout 600 "$VENV/bin/python" -m pytest mcp/tests/python -rs -p no:cacheprovider || rc=$?
if [ "$rc" -ne 0 ]; then
  # 5 means no test ran: a failure too.
  echo "pytest failed (exit $rc)" >&2
  exit 1
fi

log "node --test mcp/tests/node (the TypeScript SDK over stdio)"
(
  cd mcp/tests/node
  npm install --no-package-lock --no-audit --no-fund --loglevel=error
  node -p '"@modelcontextprotocol/sdk " + JSON.parse(require("fs").readFileSync("node_modules/@modelcontextprotocol/sdk/package.json")).version'
  timeout 300 npm test
)
echo "mcp suite passed"
