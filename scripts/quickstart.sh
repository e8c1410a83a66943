#!/usr/bin/env bash
# Sets kled up on a fresh Debian machine and runs its main job on the
# embedded default runtime (local terminals): create a terminal, run
# commands and code in it from separate processes, list it, remove it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages build-essential python3
ensure_rust

log "building kled (release)"
cargo build --release --locked -p kled-cli
kled=target/release/kled
run() { printf '\n$ kled %s\n' "$*"; "$kled" "$@"; }

"$kled" terminal rm quickstart >/dev/null 2>&1 || true
run terminal create quickstart
run terminal exec quickstart 'echo "hello from $KLED_TERMINAL in $(pwd)"; uname -sr'
run terminal exec quickstart 'echo state persists > note.txt'
run terminal exec quickstart 'cat note.txt; ls -l'
run terminal code quickstart --lang py 'import platform; print("python", platform.python_version(), sum(range(101)))'
run terminal exec quickstart --timeout 1 'echo about to hang; sleep 60' || echo "(exit $? : timed out and killed, as asked)"
run terminal list
run terminal providers
run terminal rm quickstart

cat <<MSG

kled works. The binary is $(pwd)/$kled; put it on your PATH with
  install -m 755 $kled ~/.local/bin/kled
Then: kled terminal create dev && kled terminal exec dev 'ls -la'
MSG
