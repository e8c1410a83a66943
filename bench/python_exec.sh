#!/usr/bin/env bash
# Python binding overhead: builds the release wheel and the Rust helper
# (core/examples/exec_baseline.rs), installs the wheel into a venv
# under target/, and runs bench/python_exec.py: t.execute("true") through the
# binding vs the core's Rust API on the same terminal vs subprocess.run.
# N (default 1000) round trips each; KLED_BENCH_N overrides. With valgrind
# installed it also counts client instructions per round trip (load-proof).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust
PY=${KLED_PYTHON:-python3}
N=${KLED_BENCH_N:-1000}

TOOLS=target/python-tools
if ! "$TOOLS/bin/maturin" --version >/dev/null 2>&1; then
  rm -rf "$TOOLS"
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "maturin>=1.9.4,<2"
fi
log "release wheel and the Rust helper"
rm -rf target/python-bench-wheels
"$TOOLS/bin/maturin" build --release --locked -m bindings/python/Cargo.toml -o target/python-bench-wheels
cargo build --release --locked -p kled-core --example exec_baseline
VENV=target/python-bench-venv
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --force-reinstall --no-deps target/python-bench-wheels/kled-*.whl
log "bench/python_exec.py ($N round trips each)"
"$VENV/bin/python" bench/python_exec.py target/release/examples/exec_baseline "$N" --instructions
