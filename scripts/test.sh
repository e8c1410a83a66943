#!/usr/bin/env bash
# Runs every kled test suite against real parts. This is the README's test
# command, and .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages build-essential python3
ensure_rust

log "Rust: protocol, agent, core (exec suite, lifecycle) and the kled CLI"
cargo test --workspace --locked
