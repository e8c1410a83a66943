#!/usr/bin/env bash
# Every kled benchmark, each printing kled's figures beside the alternative a
# user would pick instead, with ratios. Needs root for the container engine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

log "local terminals vs bare spawn and subprocess"
cargo bench -p kled-core --bench local_exec

log "container terminals vs the docker SDK and podman exec"
bash scripts/engine.sh setup >/dev/null
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import docker" 2>/dev/null || "$venv/bin/pip" install -q docker
KLED_BENCH_PYTHON="$PWD/$venv/bin/python" cargo bench -p kled-core --bench container_exec

log "C ABI vs the Rust API (same terminal)"
bash bench/c_abi.sh
log "Python binding vs the Rust API and subprocess"
bash bench/python_exec.sh
log "Node binding vs the Rust API and child_process.execFile"
bash bench/node_exec.sh --no-core

for extra in bench/*.bench.sh; do
  [ -e "$extra" ] || continue
  log "$extra"
  bash "$extra"
done
