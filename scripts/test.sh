#!/usr/bin/env bash
# Runs every kled test suite against real parts. This is the README's test
# command, and .ci/run calls it.
#
# First the Rust workspace (protocol, agent, core, CLI), then each suite in
# scripts/suites/*.sh in name order (engines, C, Python, Node, Go, MCP):
# each script installs what it needs and exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages build-essential python3 neovim
ensure_rust

# Real engines for the container suites: Podman (runc) and a gVisor service,
# plus the locally built test images. Container tests fail, not skip, here.
bash scripts/engine.sh setup
export KLED_REQUIRE_ENGINE=1

# A second local user for the tests that play another user on this host
# (a squatted socket directory, a foreign state dir, a root-only engine).
if ! id -u kled-other >/dev/null 2>&1; then
  as_root useradd --system --no-create-home --shell /usr/sbin/nologin kled-other
fi
KLED_TEST_OTHER_UID=$(id -u kled-other)
export KLED_TEST_OTHER_UID

# What the build takes: CI machines have had as little as a few GB free.
disk() {
  local target
  target=$(du -sh target 2>/dev/null | cut -f1) || true
  echo "disk: target/ ${target:-0}, $(df -h --output=avail . | tail -n 1 | tr -d ' ') free"
}
disk

log "shape: no file over 700 lines, no module cycles (scripts/check-shape.py)"
python3 scripts/check-shape.py

log "Rust: protocol, agent, core (exec suite on local and container terminals, lifecycle, containers, gVisor) and the kled CLI"
cargo test --workspace --locked
export KLED_WORKSPACE_TESTED=1
disk

failed=()
passed=0
for suite in scripts/suites/*.sh; do
  [ -e "$suite" ] || continue
  log "suite: $suite"
  start=$SECONDS
  if bash "$suite"; then
    echo "suite $suite passed in $((SECONDS - start))s"
    passed=$((passed + 1))
  else
    echo "suite $suite FAILED in $((SECONDS - start))s" >&2
    failed+=("$suite")
  fi
  disk
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed suites: ${failed[*]}" >&2
fi
# The Rust workspace counts as one suite: `set -e` stopped us if it failed.
echo "suites: $((passed + 1)) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
