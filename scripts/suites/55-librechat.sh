#!/usr/bin/env bash
# `kled serve codeapi` driven by LibreChat's own Code Interpreter client:
# the CodeExecutor tool of @librechat/agents (npm, pinned in
# codeapi/tests/librechat/package.json, installed into its git-ignored
# node_modules), with JWTs minted as LibreChat mints them (Ed25519, a key
# pair made here with openssl) and `_injected_files` from a prior upload.
# Real gVisor sandboxes (scripts/engine.sh, run by scripts/test.sh first).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_rust
ensure_packages build-essential openssl ca-certificates
ensure_node 20 "@librechat/agents" || exit 1

log "kled CLI (cargo build -p kled-cli)"
cargo build -p kled-cli
KLED=$PWD/target/debug/kled

TMP=$(mktemp -d /tmp/kled-librechat.XXXXXX)
SRV=
cleanup() {
  local rc=$?
  if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
    kill -TERM "$SRV"
    for _ in $(seq 120); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$SRV" 2>/dev/null && kill -KILL "$SRV"
    wait "$SRV" 2>/dev/null || true
  fi
  [ "$rc" -eq 0 ] || { echo "--- server log"; cat "$TMP/server.log"; } >&2
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

KID=lc-codeapi-2026-05   # LibreChat's default kid
openssl genpkey -algorithm ed25519 -out "$TMP/lc.key" 2>/dev/null
openssl pkey -in "$TMP/lc.key" -pubout -out "$TMP/lc.pub"
cat >"$TMP/config.yaml" <<'YAML'
codeapi:
  sessions: { warm: 1, max_sandboxes: 4 }
  rate_limit: { requests: 0, per: 60 }
YAML

log "kled serve codeapi (gVisor sandboxes, LibreChat's public key only)"
KLED_HOME=$TMP/home KLED_CODEAPI_JWT_PUBLIC_KEY=$TMP/lc.pub KLED_CODEAPI_JWT_KID=$KID KLED_LOG=trace \
  "$KLED" --config "$TMP/config.yaml" serve codeapi --listen 127.0.0.1:0 >"$TMP/server.log" 2>&1 &
SRV=$!
URL=
for _ in $(seq 240); do
  URL=$(grep -o 'kled serve codeapi: http://[^ ]*/v1' "$TMP/server.log" | sed 's/.*: //' || true)
  [ -n "$URL" ] && break
  kill -0 "$SRV" 2>/dev/null || { echo "the server exited before it was ready" >&2; exit 1; }
  sleep 0.25
done
[ -n "$URL" ] || { echo "the server was not ready within 60 s" >&2; exit 1; }

log "node --test codeapi/tests/librechat (@librechat/agents CodeExecutor against $URL)"
(
  cd codeapi/tests/librechat
  npm install --no-package-lock --no-audit --no-fund --loglevel=error
  node -p '"@librechat/agents " + JSON.parse(require("fs").readFileSync("node_modules/@librechat/agents/package.json")).version'
  LIBRECHAT_CODE_BASEURL=$URL KLED_TEST_JWT_PRIVATE_KEY=$TMP/lc.key KLED_TEST_JWT_KID=$KID timeout 300 npm test
)
# The server ran with KLED_LOG=trace: no log line over the CLI's 4096-byte
# cap (issue 14 finding 16: whole engine bodies were logged).
longest=$(sed 's/\x1b\[[0-9;]*m//g' "$TMP/server.log" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
echo "server log at trace: $(wc -c <"$TMP/server.log") bytes, longest line $longest bytes"
[ "$longest" -le 4200 ] || { echo "a log line of $longest bytes: the cap does not hold" >&2; exit 1; }
echo "librechat suite passed"
