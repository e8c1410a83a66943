#!/usr/bin/env bash
# Builds kled's Python wheel as it is shipped: one abi3 wheel (CPython 3.9+)
# for x86-64 Linux, tagged manylinux_2_28 so that it installs on glibc 2.28
# and newer (RHEL 8, Debian 10+, Ubuntu 20.04+), not only on this machine's
# glibc. maturin links it with zig (PyPI's ziglang) against glibc 2.28's
# symbol versions; a plain `maturin build` here would need 2.34.
#
# The kled-agent inside it stays a static binary built by plain cargo (zig
# cannot link glibc statically): it is built first, exactly as core/build.rs
# builds it, and handed to the wheel's build with KLED_AGENT_BIN.
#
# Usage: scripts/build-wheel.sh OUTDIR    the wheel in OUTDIR (emptied first)
#        scripts/build-wheel.sh --agent   builds the static agent, prints its path
# Tools (maturin, ziglang) live in target/python-tools, a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR | --agent" >&2; exit 2; }
ensure_rust

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
triple=$(rustc -vV | sed -n 's/^host: //p')

# The same command, target dir and flags as core/build.rs's build_agent, so
# that either build finds the other's output up to date.
build_agent() {
  local flags=-Cstrip=symbols
  case $triple in *linux-gnu*) flags="$flags"$'\x1f'-Ctarget-feature=+crt-static ;; esac
  env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET \
    CARGO_ENCODED_RUSTFLAGS="$flags" \
    cargo build --release --locked -q -p kled-agent --target "$triple" --target-dir "$target_dir/kled-agent" >&2
  local agent=$target_dir/kled-agent/$triple/release/kled-agent
  # Static: no program interpreter, so it runs in any image.
  if readelf -l "$agent" | grep -q 'Requesting program interpreter'; then
    echo "$agent is not static" >&2
    return 1
  fi
  echo "$agent"
}

if [ "$1" = --agent ]; then
  build_agent
  exit 0
fi
out=$1
case $out in /*) ;; *) out="$PWD/$out" ;; esac

TOOLS=target/python-tools
if ! "$TOOLS/bin/maturin" --version >/dev/null 2>&1 || ! "$TOOLS/bin/python" -m ziglang version >/dev/null 2>&1; then
  log "maturin and ziglang into $TOOLS"
  [ -x "$TOOLS/bin/pip" ] || python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q --disable-pip-version-check "maturin>=1.9.4,<2" "ziglang>=0.11"
fi

agent=$(build_agent)
rm -rf "$out"
# maturin finds zig through `python -m ziglang` of the venv it runs from.
PATH="$PWD/$TOOLS/bin:$PATH" KLED_AGENT_BIN=$agent \
  "$TOOLS/bin/maturin" build --release --locked --zig --compatibility manylinux_2_28 \
  -m bindings/python/Cargo.toml -o "$out"
ls "$out"/kled-*-abi3-manylinux_2_28_*.whl
