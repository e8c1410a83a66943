#!/usr/bin/env bash
# Per-call overhead of the C ABI: exec of `true` (argv, no shell) through
# libkled from C vs through the Rust API, on the same local terminal, p50
# over N (default 1000) round trips each. The two run as separate
# processes, alternately, ROUNDS (default 7) times each, so that load from
# elsewhere on the machine falls on both; the median of each side's p50s
# is compared. Also printed: the C layer's own cost, measured without I/O
# (see bench/c_abi.c). Release builds.
#   bench/c_abi.sh [N] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
rounds=${2:-7}
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

work=$(mktemp -d /tmp/kled-cabi-XXXXXX)
export KLED_HOME=$work/home KLED_BENCH_TERMINAL=cabi KLED_BENCH_N=$n
cleanup() {
  "$work/c_abi" teardown 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Both halves are built once, up front, and then run directly: nothing
# rebuilds between rounds.
scripts/install-libkled.sh "$work/prefix" --no-cli >/dev/null
cargo build --release --locked -p kled-core --example exec_baseline
rust_bench=target/release/examples/exec_baseline
export PKG_CONFIG_PATH=$work/prefix/lib/pkgconfig
cc -O2 -std=c99 -Wall -Wextra -Werror bench/c_abi.c $(pkg-config --cflags --libs kled) -o "$work/c_abi"

"$work/c_abi" setup
c_p50s=()
rust_p50s=()
fixed=()
for ((i = 1; i <= rounds; i++)); do
  line=$("$work/c_abi" run "$n")
  echo "round $i: $line"
  c_p50s+=("$(sed 's/.* p50_us=\([0-9.]*\).*/\1/' <<<"$line")")
  fixed+=("$(sed 's/.*fixed_p50_us=\([0-9.]*\).*/\1/' <<<"$line")")
  p50=$("$rust_bench" "$KLED_HOME" "$KLED_BENCH_TERMINAL" "$n" | python3 -c 'import json, sys; print(json.load(sys.stdin)["p50_us"])')
  echo "round $i: rust_api n=$n p50_us=$p50"
  rust_p50s+=("$p50")
done

python3 - "${c_p50s[*]}" "${rust_p50s[*]}" "${fixed[*]}" <<'PY'
import statistics, sys
cs, rs, fs = ([float(x) for x in a.split()] for a in sys.argv[1:4])
c, r, f = statistics.median(cs), statistics.median(rs), statistics.median(fs)
print(f"exec ['true'] p50, median of {len(cs)} rounds: C ABI {c:.1f} us (rounds {min(cs):.0f}-{max(cs):.0f}), "
      f"Rust API {r:.1f} us (rounds {min(rs):.0f}-{max(rs):.0f})")
print(f"C / Rust: {c / r:.3f}x   difference: {c - r:+.1f} us per call   (aim: under 5% or 20 us)")
print(f"the C layer's own cost per call, without I/O: p50 {f:.2f} us")
PY
