#!/usr/bin/env bash
# `kled serve codeapi` under load: requests per second and p50/p99 latency
# of POST /v1/exec with `print(1)` in Python at 1, 8 and 32 concurrent
# clients (codeapi/examples/codeapi_load.rs, a second process on loopback),
# for a new session per request (a gVisor sandbox of its own: from the warm
# pool while places are free, else evicting the least recently used idle
# session's) and for a reused session (its sandbox stays up), against the same code run
# through `podman run --rm --runtime runsc` per request. Both protocols:
# a static key (X-API-Key, the legacy hosted service's way) and a JWT minted
# per request as LibreChat >= 0.8.6 mints them (Ed25519, verified by the
# server; a JWT user's runs reuse that user's warm sandbox). One run; each
# measurement is bounded in requests and seconds. Needs root (rootful
# Podman, /run/kled/gvisor.sock). The server's log (KLED_LOG=info) is kept
# in target/codeapi-bench-server.log.
#
# Bounds (requests / seconds) per measurement; the environment overrides:
#   KLED_BENCH_NEW_N=200  KLED_BENCH_NEW_SECS=20      a new session per request
#   KLED_BENCH_SESSION_N=2000 KLED_BENCH_SESSION_SECS=10   one session per client
#   KLED_BENCH_PODMAN_N=30 KLED_BENCH_PODMAN_SECS=30  podman run --rm per request
#                                 (at least 2 requests per client: 64 at concurrency 32)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
[ "$(id -u)" = 0 ] || { echo "bench/codeapi.bench.sh needs root (rootful Podman, /run/kled/gvisor.sock)" >&2; exit 1; }
ensure_rust
ensure_packages python3 openssl
NEW_N=${KLED_BENCH_NEW_N:-200} NEW_SECS=${KLED_BENCH_NEW_SECS:-20}
SESSION_N=${KLED_BENCH_SESSION_N:-2000} SESSION_SECS=${KLED_BENCH_SESSION_SECS:-10}
PODMAN_N=${KLED_BENCH_PODMAN_N:-30} PODMAN_SECS=${KLED_BENCH_PODMAN_SECS:-30}
CONCURRENCY=(1 8 32)
IMAGE=localhost/kled-debian
GVISOR_URL=unix:///run/kled/gvisor.sock
SERVER_LOG=target/codeapi-bench-server.log

bash scripts/engine.sh setup >/dev/null

log "release builds: kled and the load generator (codeapi/examples/codeapi_load.rs)"
cargo build --release --locked -p kled-cli
cargo build --release --locked -p kled-codeapi --example codeapi_load
LOAD=target/release/examples/codeapi_load

TMP=$(mktemp -d /tmp/kled-codeapi-bench.XXXXXX)
LABEL=kled-bench=codeapi-$$   # on the baseline's containers, to find any left over
SRV=
cleanup() {
  local rc=$?
  if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
    log "stopping the server (SIGTERM: it removes its sandboxes)"
    kill -TERM "$SRV"
    for _ in $(seq 120); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$SRV" 2>/dev/null; then
      echo "WARNING: the server did not stop within 60 s of SIGTERM; killing it" >&2
      kill -KILL "$SRV"
    fi
    wait "$SRV" 2>/dev/null || true
  fi
  # Every sandbox this server created (the log names them) must be gone.
  if [ -f "$TMP/server.log" ]; then
    sed 's/\x1b\[[0-9;]*m//g' "$TMP/server.log" >"$SERVER_LOG"
    local made left=()
    made=$(grep -o 'created terminal="codeapi-[a-z0-9]*"' "$SERVER_LOG" | sed 's/.*="\(.*\)"/kled-\1/' | sort -u || true)
    for c in $made; do
      podman --url "$GVISOR_URL" container exists "$c" 2>/dev/null && left+=("$c")
    done
    if [ ${#left[@]} -gt 0 ]; then
      echo "WARNING: ${#left[@]} sandbox(es) left after the server stopped, removing: ${left[*]}" >&2
      podman --url "$GVISOR_URL" rm -f "${left[@]}" >/dev/null || true
    else
      echo "server stopped; none of its $(wc -w <<<"$made") sandboxes left (log: $SERVER_LOG)" >&2
    fi
  fi
  local stray
  stray=$(podman ps -aq --filter "label=$LABEL" 2>/dev/null || true)
  if [ -n "$stray" ]; then
    echo "WARNING: baseline containers left, removing: $stray" >&2
    podman rm -f $stray >/dev/null || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$TMP/config.yaml" <<'EOF'
codeapi:
  sessions: { idle: 30, max_sandboxes: 16, warm: 4 }
  rate_limit: { requests: 0, per: 60 }
EOF

openssl genpkey -algorithm ed25519 -out "$TMP/jwt.key" 2>/dev/null
openssl pkey -in "$TMP/jwt.key" -pubout -out "$TMP/jwt.pub"
log "starting kled serve codeapi (gVisor sandboxes; max_sandboxes 16, warm 4, idle 30 s; no rate limit)"
KLED_HOME=$TMP/home KLED_CODEAPI_KEYS=k1 KLED_LOG=info \
  KLED_CODEAPI_JWT_PUBLIC_KEY=$TMP/jwt.pub KLED_CODEAPI_JWT_KID=bench \
  target/release/kled --config "$TMP/config.yaml" serve codeapi --listen 127.0.0.1:0 >"$TMP/server.log" 2>&1 &
SRV=$!
URL=
for _ in $(seq 240); do
  URL=$(grep -o 'kled serve codeapi: http://[^ ]*/v1' "$TMP/server.log" | sed 's/.*: //' || true)
  [ -n "$URL" ] && break
  kill -0 "$SRV" 2>/dev/null || { cat "$TMP/server.log" >&2; echo "the server exited before it was ready" >&2; exit 1; }
  sleep 0.25
done
[ -n "$URL" ] || { cat "$TMP/server.log" >&2; echo "the server was not ready within 60 s" >&2; exit 1; }
echo "server ready at $URL" >&2
sleep 3   # the warm pool fills after the ready line

RESULTS=$TMP/results.jsonl
: >"$RESULTS"
measure() {  # measure LABEL ARGS... : one codeapi_load run, its JSON line tagged with LABEL
  local label=$1 line; shift
  line=$("$LOAD" "$@") || { echo "codeapi_load failed: $*" >&2; exit 1; }
  echo "  $line" >&2
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["label"]=sys.argv[2]; print(json.dumps(d))' "$line" "$label" >>"$RESULTS"
}

for mode in session new; do
  if [ "$mode" = new ]; then n=$NEW_N s=$NEW_SECS; else n=$SESSION_N s=$SESSION_SECS; fi
  for c in "${CONCURRENCY[@]}"; do
    log "kled, $mode: concurrency $c (at most $n requests or $s s)"
    measure "kled $mode" --url "$URL" --key k1 --mode "$mode" --concurrency "$c" --max-requests "$n" --max-secs "$s"
  done
done
for mode in session new; do
  if [ "$mode" = new ]; then n=$NEW_N s=$NEW_SECS; else n=$SESSION_N s=$SESSION_SECS; fi
  for c in "${CONCURRENCY[@]}"; do
    log "kled, JWT, $mode: concurrency $c (at most $n requests or $s s)"
    measure "kled jwt $mode" --url "$URL" --jwt-key "$TMP/jwt.key" --jwt-kid bench --mode "$mode" \
      --concurrency "$c" --max-requests "$n" --max-secs "$s"
  done
done
log "server log: $(grep -c ' WARN ' "$TMP/server.log" || true) warnings, $(grep -c ' ERROR ' "$TMP/server.log" || true) errors"
grep -E ' (WARN|ERROR) ' "$TMP/server.log" | sed 's/\x1b\[[0-9;]*m//g' | head -20 >&2 || true

# The baseline, as kled's sandboxes run: gVisor, no network.
PODMAN=(podman run --rm --label "$LABEL" --network none --runtime runsc "$IMAGE" python3 -c 'print(1)')
NOTE="runtime runsc (gVisor), --network none, like kled's sandboxes"
if ! podman run --rm --label "$LABEL" --network none --runtime runsc "$IMAGE" dmesg 2>/dev/null | grep -q gVisor; then
  PODMAN=(podman run --rm --label "$LABEL" --network none "$IMAGE" python3 -c 'print(1)')
  NOTE="NOTE: --runtime runsc does not work here: the baseline uses Podman's default runtime (no gVisor)"
fi
echo "baseline: ${PODMAN[*]}" >&2
echo "$NOTE" >&2
for c in "${CONCURRENCY[@]}"; do
  n=$(( PODMAN_N > 2 * c ? PODMAN_N : 2 * c ))
  log "podman run --rm: concurrency $c (at most $n requests or $PODMAN_SECS s)"
  measure "podman run" --mode cmd --concurrency "$c" --max-requests "$n" --max-secs "$PODMAN_SECS" -- "${PODMAN[@]}"
done

log "kled serve codeapi vs podman run --rm, print(1) in Python ($NOTE)"
python3 - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = {r["concurrency"]: r["rps"] for r in rows if r["label"] == "podman run"}
def num(x, f="{:.1f}"):
    return "-" if x is None else f.format(x)
print("| what | concurrency | requests | failures | of which transport errors | secs | rps | p50 ms | p99 ms | rps vs podman run | note |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for r in rows:
    b = base.get(r["concurrency"])
    ratio = "1x" if r["label"] == "podman run" else (f'{r["rps"] / b:.1f}x' if b else "-")
    sf = r.get("setup_failures", 0)
    note = f'{sf} of {r["concurrency"]} sessions refused at setup: {r["concurrency"] - sf} clients ran' if sf else ""
    print(f'| {r["label"]} | {r["concurrency"]} | {r["requests"]} | {r["failures"]} | {r.get("transport_errors", 0)} | {r["secs"]:.1f} '
          f'| {num(r["rps"])} | {num(r["p50_ms"])} | {num(r["p99_ms"])} | {ratio} | {note} |')
EOF
