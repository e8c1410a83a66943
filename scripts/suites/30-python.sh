#!/usr/bin/env bash
# The Python binding (bindings/python): builds the abi3 manylinux_2_28 wheel
# with scripts/build-wheel.sh (maturin and zig; PyPI and crates.io only),
# installs it into a fresh venv, runs pytest there against real local
# terminals (and the kled CLI, for cross-process checks), checks the type
# stubs against the module (mypy.stubtest),
# mypy --strict on examples/python and mypy on the tests, runs both examples,
# then runs the tests again with the same wheel on the oldest supported Python
# (3.9) when the machine has it. Tools live in venvs under target/, never
# globally.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
REPO=$PWD

ensure_rust
ensure_packages build-essential python3 python3-venv ca-certificates
PY=${KLED_PYTHON:-python3}
"$PY" -c 'import sys; assert sys.version_info >= (3, 9), sys.version' || {
  echo "kled's Python binding needs Python 3.9 or newer ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
}

TOOLS=target/python-tools
if ! "$TOOLS/bin/maturin" --version >/dev/null 2>&1; then
  log "maturin into $TOOLS"
  rm -rf "$TOOLS"
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "maturin>=1.9.4,<2"
fi

log "kled CLI (for the cross-process tests)"
cargo build -p kled-cli
export KLED_CLI="$REPO/target/debug/kled"

# The wheel as shipped (abi3, manylinux_2_28, linked with zig): the same
# build 60-packaging.sh installs in a container.
log "wheel: scripts/build-wheel.sh (maturin --release --zig --compatibility manylinux_2_28)"
WHEELS=target/python-wheels
scripts/build-wheel.sh "$WHEELS"
WHEEL=$(ls "$WHEELS"/kled-*-abi3-*.whl)
echo "built $WHEEL ($(du -h "$WHEEL" | cut -f1))"

log "fresh venv: pip install the wheel, pytest, mypy"
VENV=target/python-venv
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q "$WHEEL" pytest mypy
VENV_ABS=$(cd "$VENV" && pwd)

home=$(mktemp -d /tmp/kled-py-examples-XXXXXX)
work=$(mktemp -d /tmp/kled-py-suite-XXXXXX)
cleanup() {
  # Terminals are daemons: remove any an example left behind.
  "$VENV/bin/python" -c '
import sys, kled
m = kled.Manager(state_dir=sys.argv[1])
for i in m.list_terminals():
    m.remove_terminal(i.name)
' "$home" 2>/dev/null || true
  rm -rf "$home" "$work"
}
trap cleanup EXIT

log "pytest (bindings/python/tests) against the installed package"
# From a scratch directory, so that `import kled` can only find the wheel.
rc=0
(cd "$work" && KLED_EXPECT_INSTALLED_IN="$VENV_ABS" timeout 900 "$VENV_ABS/bin/python" -m pytest \
  "$REPO/bindings/python/tests" -rs -p no:cacheprovider) || rc=$?
if [ "$rc" -ne 0 ]; then
  # 5 means no test ran: a failure too.
  echo "pytest failed (exit $rc)" >&2
  exit 1
fi

log "mypy.stubtest kled: the hand-written stubs (kled/_kled.pyi) against the installed module"
# From the scratch directory, so that the module checked is the wheel's. No
# allowlist: every difference stubtest reports is a wrong stub (or binding).
(cd "$work" && "$VENV_ABS/bin/python" -m mypy.stubtest kled)

log "mypy --strict examples/python; mypy bindings/python/tests"
"$VENV/bin/python" -m mypy --strict --cache-dir "$work/mypy" examples/python/quickstart.py examples/python/agent_loop.py
"$VENV/bin/python" -m mypy --cache-dir "$work/mypy" bindings/python/tests

log "examples/python"
KLED_HOME="$home" "$VENV/bin/python" examples/python/quickstart.py
KLED_HOME="$home" "$VENV/bin/python" examples/python/agent_loop.py

# abi3: the same wheel, and the same tests, on the oldest Python it claims.
old=
for candidate in "$HOME"/.pyenv/versions/3.9*/bin/python3.9 /usr/bin/python3.9 /usr/local/bin/python3.9; do
  if [ -x "$candidate" ] && "$candidate" -c 'import venv' 2>/dev/null; then old=$candidate; break; fi
done
if [ -n "$old" ]; then
  log "abi3: pytest with the same wheel on $("$old" --version 2>&1)"
  "$old" -m venv "$work/venv39"
  "$work/venv39/bin/pip" install -q "$WHEEL" pytest
  rc=0
  (cd "$work" && KLED_EXPECT_INSTALLED_IN="$work/venv39" timeout 900 "$work/venv39/bin/python" -m pytest \
    "$REPO/bindings/python/tests" -q -rs -p no:cacheprovider) || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "pytest on $("$old" --version 2>&1) failed (exit $rc)" >&2
    exit 1
  fi
else
  echo "NOTE: no Python 3.9 on this machine: the abi3 wheel was tested on $("$PY" --version 2>&1) only"
fi

echo "python suite passed"
