#!/usr/bin/env bash
# The Node binding's benchmark: builds the addon (release) and the Rust
# same-terminal baseline, runs bench/node_exec.js, then the core's own
# benchmark for its Rust API figures. Skip the latter with --no-core.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
(cd bindings/node && node build.js)
cargo build --release -p kled-core --example exec_baseline
node bench/node_exec.js
if [ "${1:-}" != "--no-core" ]; then
  echo
  echo "== the core's benchmark (cargo bench -p kled-core --bench local_exec)"
  cargo bench -p kled-core --bench local_exec
fi
