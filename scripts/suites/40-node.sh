#!/usr/bin/env bash
# The Node binding: builds kled.node with plain cargo, runs `npm test`
# (node --test against real local terminals, the CLI cross-process checks,
# the 10,000-exec memory check and the npm pack install check), checks
# index.d.ts (tsc --strict over test/types/types.ts, which uses every
# declaration, and test/types/surface.js, which holds the declarations against
# the real module), then the examples: tsc --noEmit on the TypeScript
# quickstart and both quickstarts.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

ensure_rust
ensure_packages build-essential python3 ca-certificates
ensure_node 18 "kled" || exit 1

log "building kled.node (cargo build --release -p kled-node) and the kled CLI"
(cd bindings/node && node build.js)
cargo build -p kled-cli
export KLED_CLI="$PWD/target/debug/kled"

log "npm test (bindings/node)"
(cd bindings/node && npm test)

log "index.d.ts: tsc --noEmit --strict over bindings/node/test/types/types.ts, then against the real module"
(
  cd bindings/node/test/types
  npm install --no-package-lock --no-audit --no-fund --loglevel=error
  npx --no-install tsc --version
  npx --no-install tsc --noEmit --strict -p .
  node surface.js
)

log "examples/node: install (kled from the checkout, typescript from npm), tsc --noEmit, run"
home=$(mktemp -d /tmp/kled-node-examples-XXXXXX)
cleanup() {
  # Terminals are daemons: remove any an example left behind, then the state dir.
  node -e 'require("./bindings/node/test/helpers").removeAll(process.argv[1]).catch(() => {})' "$home" || true
  rm -rf "$home"
}
trap cleanup EXIT
(
  cd examples/node
  npm install --no-package-lock --no-audit --no-fund --loglevel=error
  npx --no-install tsc --version
  npx --no-install tsc --noEmit -p .
  KLED_HOME="$home" node quickstart.js
  npx --no-install tsc -p . --outDir "$home/dist"
  KLED_HOME="$home" NODE_PATH="$PWD/node_modules" node "$home/dist/quickstart.js"
)
echo "node suite passed"
