#!/usr/bin/env bash
# Every kled benchmark, each printing kled's figures beside the alternative's.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p kled-core --bench local_exec
