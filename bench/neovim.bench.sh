#!/usr/bin/env bash
# Exec round trip through a Neovim terminal vs a local terminal (same commands).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p kled-core --bench neovim_exec
