#!/usr/bin/env bash
# Packaging: each artefact a user installs, built once, installed where there
# is no Rust toolchain (a container from the project's own image
# localhost/kled-debian, no network), then a smoke test per language:
#   - the READMEs' method lists agree with the stubs (scripts/check-api-docs.py)
#   - libkled: soname libkled.so.0 and its links, only kled_* symbols
#     exported (nm -D), libkled.a, kled.h, kled.pc from
#     scripts/install-libkled.sh; a C program and the Go package built
#     through pkg-config, run in the container; the installed kled CLI, its
#     completions and man pages, there too
#   - Python: the abi3 manylinux_2_28 wheel (scripts/build-wheel.sh, the one
#     30-python.sh tests) passes `auditwheel show`, installs into a fresh venv
#     in the container, and runs a local terminal; the sdist installs with
#     pip into a fresh venv (a source build: Rust on PATH, no KLED_AGENT_BIN)
#   - Node: `npm pack`, `npm install ./kled-X.tgz` in an empty project without
#     cargo, require() and ESM import, an exec
# Prints PASS/FAIL per step with sizes and install times; exits non-zero if
# any step failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
. scripts/lib.sh

ensure_packages build-essential pkg-config binutils golang-go python3 python3-venv podman || exit 1
ensure_rust || exit 1
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then ensure_packages nodejs npm || exit 1; fi

IMAGE=${KLED_PACKAGING_IMAGE:-localhost/kled-debian}
if ! podman image exists "$IMAGE"; then
  echo "no image $IMAGE: run scripts/engine.sh setup (it builds it)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/kled-s60-XXXXXX)
prefix=$work/prefix
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

passed=0
failed=0
failures=()
# step NAME CMD...: runs CMD, output to a log that is shown on failure; the
# lines the step prints with `figure` are shown either way.
step() {
  local name=$1 log start=$SECONDS
  shift
  log="$work/$(echo "$name" | tr -c 'A-Za-z0-9_-' '_').log"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'PASS  %-64s %3ss\n' "$name" "$((SECONDS - start))"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL  %-64s %3ss\n' "$name" "$((SECONDS - start))"
    tail -n 60 "$log" | sed 's/^/      /'
  fi
  grep '^figure: ' "$log" | sed 's/^figure: /      /'
}
figure() { echo "figure: $*"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
size_of() { du -h "$1" | cut -f1; }

# in_image MOUNTS... -- CMD...: runs CMD (sh -c) in a fresh container of the
# project's image: no network, no Rust, nothing of the host but the mounts.
in_image() {
  local mounts=()
  while [ "$1" != -- ]; do mounts+=(-v "$1"); shift; done
  shift
  podman run --rm --network none --pids-limit 512 "${mounts[@]}" "$IMAGE" sh -ec "$*"
}

step "README method lists match the stubs (check-api-docs.py)" python3 scripts/check-api-docs.py

no_rust_in_image() {
  in_image -- 'for p in cargo rustc rustup; do if command -v $p; then exit 1; fi; done; echo "no Rust toolchain"'
}
step "the image $IMAGE has no Rust toolchain" no_rust_in_image

# ---------------------------------------------------------------- libkled, CLI
install_lib() {
  local t0
  t0=$(date +%s%N)
  scripts/install-libkled.sh "$prefix" || return 1
  figure "install-libkled.sh (release build + install): $(ms_since "$t0") ms"
}
step "install-libkled.sh PREFIX (release: lib, header, kled.pc, CLI)" install_lib
lib=$prefix/lib
export PKG_CONFIG_PATH=$lib/pkgconfig

soname_check() {
  local v real
  v=$(pkg-config --modversion kled) || return 1
  real=$lib/libkled.so.$v
  [ -f "$real" ] && [ ! -L "$real" ] || { echo "no $real"; return 1; }
  [ "$(readlink "$lib/libkled.so.0")" = "libkled.so.$v" ] || { ls -l "$lib"; return 1; }
  [ "$(readlink "$lib/libkled.so")" = "libkled.so.0" ] || { ls -l "$lib"; return 1; }
  readelf -d "$real" | grep -q 'Library soname: \[libkled.so.0\]' || { readelf -d "$real" | head; return 1; }
  for f in libkled.a ../include/kled.h pkgconfig/kled.pc; do [ -s "$lib/$f" ] || { echo "no $lib/$f"; return 1; }; done
  figure "libkled.so.$v $(size_of "$real"), libkled.a $(size_of "$lib/libkled.a")"
}
step "libkled.so.0: soname, libkled.so link, libkled.a, kled.h, kled.pc" soname_check

exports_check() {
  local all others
  all=$(nm -D --defined-only "$lib/libkled.so.0" | awk '{print $3}' | sed 's/@.*//' | sort -u)
  others=$(echo "$all" | grep -v '^kled_' || true)
  [ -z "$others" ] || { echo "exported, not kled_*:"; echo "$others"; return 1; }
  # Every function the header declares is exported, and nothing else.
  diff <(grep -oE '\bkled_[a-z0-9_]+\(' include/kled.h | tr -d '(' | sort -u) <(echo "$all") || return 1
  figure "$(echo "$all" | wc -l) exported symbols, all kled_* and all in kled.h"
}
step "nm -D --defined-only: only the kled_* functions of kled.h" exports_check

c_program() {
  cc examples/c/hello.c $(pkg-config --cflags --libs kled) -o "$work/hello-c" || return 1
  readelf -d "$work/hello-c" | grep -q 'Shared library: \[libkled.so.0\]' || { readelf -d "$work/hello-c"; return 1; }
  # The rpath names $prefix: mount it at the same path.
  in_image "$prefix:$prefix:ro" "$work/hello-c:/usr/local/bin/hello-c:ro" -- \
    'KLED_HOME=/tmp/h hello-c' | tee "$work/hello-c.out"
  grep -qx 'hello from /bin/sh' "$work/hello-c.out" && grep -qx 'exit code: 3' "$work/hello-c.out"
}
step "C: cc \$(pkg-config ...) links libkled.so.0, runs in the image" c_program

go_program() {
  export GOPROXY=off GOFLAGS=-mod=readonly GOTOOLCHAIN=local GOCACHE=$work/gocache
  (cd bindings/go && go build ./...) || return 1
  (cd examples/go && go build -o "$work/hello-go" .) || return 1
  readelf -d "$work/hello-go" | grep -q 'Shared library: \[libkled.so.0\]' || return 1
  in_image "$prefix:$prefix:ro" "$work/hello-go:/usr/local/bin/hello-go:ro" -- \
    'KLED_HOME=/tmp/h hello-go' | tee "$work/hello-go.out"
  grep -qx 'hello from /bin/sh' "$work/hello-go.out" && grep -qx 'exit code: 3' "$work/hello-go.out"
}
step "Go: bindings/go builds through pkg-config, example runs in the image" go_program

cli_installed() {
  local share=$prefix/share
  for f in man/man1/kled.1 man/man1/kled-terminal-exec.1 bash-completion/completions/kled \
    zsh/site-functions/_kled fish/vendor_completions.d/kled.fish; do
    [ -s "$share/$f" ] || { echo "no $share/$f"; return 1; }
  done
  figure "kled $(size_of "$prefix/bin/kled"), $(ls "$share/man/man1" | wc -l) man pages"
  # In the image: the version, a local terminal, and bash completing from
  # the installed script.
  in_image "$prefix:/opt/kled:ro" -- '
    export PATH=/opt/kled/bin:$PATH KLED_HOME=/tmp/h
    kled --version
    kled terminal create pkg-cli >/dev/null
    [ "$(kled terminal exec pkg-cli "echo \$((6 * 7))")" = 42 ]
    kled terminal rm pkg-cli >/dev/null
    bash --norc -c ". /opt/kled/share/bash-completion/completions/kled
      COMP_WORDS=(kled terminal cr); COMP_CWORD=2; _kled kled cr terminal; echo completes: \${COMPREPLY[*]}"' | tee "$work/cli.out"
  grep -q '^agent ' "$work/cli.out" && grep -q '^protocol ' "$work/cli.out" && grep -qx 'completes: create' "$work/cli.out"
}
step "CLI: kled, man pages, completions installed; run in the image" cli_installed

# ---------------------------------------------------------------- Python
wheels=$work/wheels
PYTOOLS=target/python-tools
build_wheel() {
  local t0
  t0=$(date +%s%N)
  scripts/build-wheel.sh "$wheels" || return 1
  figure "wheel build: $(ms_since "$t0") ms; $(basename "$wheels"/kled-*.whl) $(size_of "$wheels"/kled-*.whl)"
}
step "Python: abi3 manylinux_2_28 wheel (scripts/build-wheel.sh)" build_wheel

auditwheel_check() {
  "$PYTOOLS/bin/pip" install -q --disable-pip-version-check "auditwheel>=6" || return 1
  "$PYTOOLS/bin/auditwheel" show "$wheels"/kled-*.whl | tee "$work/auditwheel.out"
  # "is consistent with the following platform tag: manylinux_2_28_x86_64"
  # (or an older one); maturin tagged it 2_28 and auditwheel agrees.
  grep -Eq 'consistent with the following platform tag: *"?manylinux_2_(1[0-9]|2[0-8])_x86_64' \
    <(tr '\n' ' ' <"$work/auditwheel.out" | sed 's/  */ /g')
}
step "Python: auditwheel show accepts manylinux_2_28 or older" auditwheel_check

python_in_image() {
  local pipwhl
  pipwhl=$(ls /usr/share/python-wheels/pip-*.whl 2>/dev/null | head -n 1)
  [ -n "$pipwhl" ] || { echo "no pip wheel in /usr/share/python-wheels (python3-venv)"; return 1; }
  # The image's Python has no ensurepip (python3-venv is not in it): a venv
  # without pip, and pip run from its own wheel, offline.
  in_image "$wheels:/w:ro" "$pipwhl:/pip.whl:ro" -- '
    python3 -m venv --without-pip /tmp/venv
    t0=$(date +%s%N)
    /tmp/venv/bin/python /pip.whl/pip install -q --no-index --no-cache-dir --disable-pip-version-check /w/kled-*.whl
    echo "figure: pip install of the wheel in a fresh venv: $((($(date +%s%N) - t0) / 1000000)) ms"
    cd / && KLED_HOME=/tmp/h /tmp/venv/bin/python -c "
import kled, sys
assert kled.__file__.startswith(\"/tmp/venv/\"), kled.__file__
m = kled.Manager()
with m.create_terminal(\"local\", \"pkg-py\") as t:
    r = t.execute(\"echo hello from \$0; exit 3\")
    assert (r.stdout, r.exit_code) == (\"hello from /bin/sh\\n\", 3), r
    assert t.run_code(\"python\", \"print(2 ** 10)\").check().stdout == \"1024\\n\"
print(\"kled\", kled.__version__, \"from the wheel: local exec ok on\", sys.version.split()[0])
"'
}
step "Python: wheel into a fresh venv in the image; import kled; exec" python_in_image

# The sdist as a user installs it: pip in a fresh venv with the Rust
# toolchain on PATH and nothing else: no KLED_AGENT_BIN, no maturin options,
# maturin itself fetched by pip into an isolated build env. core/build.rs
# builds the embedded agent from the sdist's agent/ (a build-dependency of
# the core, so maturin packs it). Only the target dir is shared with the
# workspace, so that the crates.io dependencies compiled by the release
# builds above are reused. Cargo would take the sdist's own crates for
# up to date there (the same places relative to the workspace root, older
# files), so the sdist is unpacked and its files touched, and pip installs
# the unpacked tree: kled's crates, the agent included, must compile from it
# (checked in the build log). `pip install kled-X.tar.gz` itself builds the
# same way, only from scratch (docs/packaging.md has its time).
sdist_installs() {
  local t0 out=$work/sdist venv=$work/sdist-venv sd triple agent
  "$PYTOOLS/bin/maturin" sdist -m bindings/python/Cargo.toml -o "$out" || return 1
  sd=$(ls "$out"/kled-*.tar.gz) || return 1
  # (A listing file, not a pipe: grep -q would end tar by SIGPIPE, a failure under pipefail.)
  tar tzf "$sd" >"$out/list" || return 1
  grep -q '^kled-[^/]*/agent/src/main.rs$' "$out/list" || { echo "no agent/ sources in $sd"; return 1; }
  figure "sdist $(basename "$sd") $(size_of "$sd")"
  mkdir -p "$out/src" && tar xzf "$sd" -C "$out/src" --strip-components=1 || return 1
  find "$out/src" -type f -exec touch {} +
  python3 -m venv "$venv" || return 1
  triple=$(rustc -vV | sed -n 's/^host: //p')
  agent=$root/target/kled-agent/$triple/release/kled-agent
  t0=$(date +%s%N)
  env -u KLED_AGENT_BIN -u MATURIN_PEP517_ARGS -u CARGO_BUILD_TARGET CARGO_TARGET_DIR="$root/target" \
    "$venv/bin/pip" install -v --disable-pip-version-check "$out/src" >"$out/build.log" 2>&1 ||
    { tail -n 40 "$out/build.log"; return 1; }
  figure "pip install of the unpacked sdist (release build of kled's 4 crates and the agent): $(ms_since "$t0") ms"
  for crate in kled-protocol kled-agent kled-core kled-python; do
    grep -q "Compiling $crate v.* ($out/src" "$out/build.log" || { echo "$crate was not compiled from the sdist"; return 1; }
  done
  # The nested build of the static agent ran too, from the sdist's sources.
  [ "$agent" -nt "$out/src/agent/src/main.rs" ] || { echo "$agent was not rebuilt from the sdist"; return 1; }
  (cd / && env -u KLED_AGENT_BIN KLED_HOME="$out/home" "$venv/bin/python" -c "
import kled, sys
assert kled.__file__.startswith(sys.argv[1]), kled.__file__
m = kled.Manager()
with m.create_terminal('local', 'pkg-sdist') as t:
    r = t.execute('echo hello from \$0; exit 3')
    assert (r.stdout, r.exit_code) == ('hello from /bin/sh\\n', 3), r
    assert t.run_code('python', 'print(2 ** 10)').check().stdout == '1024\\n'
print('kled', kled.__version__, 'from the sdist: local exec ok')
" "$venv/")
}
step "Python: pip install of the sdist, no KLED_AGENT_BIN; import kled; exec" sdist_installs

# ---------------------------------------------------------------- Node
node_pack() {
  (cd bindings/node && node build.js) || return 1
  (cd bindings/node && npm pack --silent --pack-destination "$work") >"$work/pack.name" || return 1
  local tgz
  tgz=$work/$(tail -n 1 "$work/pack.name")
  [ -f "$tgz" ] || return 1
  local files
  files=$(tar tzf "$tgz" | sort | tr '\n' ' ')
  [ "$files" = "package/README.md package/index.d.ts package/index.js package/index.mjs package/kled.node package/package.json " ] ||
    { echo "unexpected files: $files"; return 1; }
  echo "$tgz" >"$work/tgz"
  figure "$(basename "$tgz") $(size_of "$tgz") ($(tar xzf "$tgz" -O package/kled.node | wc -c | awk '{printf "%.1f MB", $1 / 1048576}') addon unpacked)"
}
step "Node: npm pack, a tarball with the prebuilt kled.node" node_pack

# Where Node runs for the install: in the image when this host's node is a
# self-contained build (NodeSource's: libc and libstdc++ only), mounted with
# its npm; else (Debian's node needs libnode and ~40 libraries the image
# lacks) on the host with PATH stripped of cargo/rustc and an empty HOME.
node_install() {
  local tgz node npmdir app=$work/app
  tgz=$(cat "$work/tgz") || return 1
  node=$(readlink -f "$(command -v node)")
  npmdir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  mkdir -p "$app"
  cat >"$app/smoke.cjs" <<'JS'
const kled = require('kled');
(async () => {
  const m = new kled.Manager({ stateDir: process.env.KLED_HOME });
  const t = await m.createTerminal('local', 'pkg-node');
  await t.start();
  const r = await t.execute('echo "hello from $0"; exit 3');
  await t.remove();
  if (r.stdout !== 'hello from /bin/sh\n' || r.exitCode !== 3) throw new Error(JSON.stringify(r));
  console.log(`require('kled') ${kled.version} from ${require.resolve('kled')}: exec ok`);
})().catch((e) => { console.error(e); process.exit(1); });
JS
  cat >"$app/smoke.mjs" <<'JS'
import { Manager, NotFoundError } from 'kled';
import kled from 'kled';
import { createRequire } from 'node:module';
const m = new Manager({ stateDir: process.env.KLED_HOME });
const t = await m.createTerminal('local', 'pkg-node-esm');
await t.start();
const r = await t.execute(['sh', '-c', 'echo $((6 * 7))']);
await t.remove();
if (r.stdout !== '42\n') throw new Error(r.stdout);
if (kled.Manager !== Manager || createRequire(import.meta.url)('kled').Manager !== Manager) throw new Error('two copies');
await m.getTerminal('pkg-node-esm').then(() => { throw new Error('still there'); }, (e) => {
  if (!(e instanceof NotFoundError)) throw e;
});
console.log("import { Manager } from 'kled': exec ok, one module for require and import");
JS
  local install='t0=$(date +%s%N)
    npm install --offline --no-audit --no-fund --loglevel=error "$TGZ" >/dev/null
    echo "figure: npm install of the tarball: $((($(date +%s%N) - t0) / 1000000)) ms"
    [ ! -L node_modules/kled ] && ! command -v cargo && ! command -v rustc
    KLED_HOME=$PWD/kh-cjs node smoke.cjs && KLED_HOME=$PWD/kh-esm node smoke.mjs'
  if ! ldd "$node" | grep -q libnode && [ -x "$npmdir/bin/npm-cli.js" ]; then
    figure "Node ran in the image, with this host's node ($node) and npm mounted"
    cp "$tgz" "$app/"
    in_image "$node:/opt/node/bin/node:ro" "$npmdir:/opt/node/lib/node_modules/npm:ro" "$app:/app" -- "
      mkdir -p /tmp/bin && ln -s /opt/node/lib/node_modules/npm/bin/npm-cli.js /tmp/bin/npm
      export PATH=/tmp/bin:/opt/node/bin:/usr/bin:/bin HOME=/tmp/home TGZ=/app/$(basename "$tgz")
      cd /app && $install"
  else
    figure "Node ran on the host ($node needs libraries the image lacks): PATH without cargo, empty HOME"
    mkdir -p "$work/home"
    (cd "$app" && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work/home" TGZ="$tgz" TMPDIR=/tmp sh -ec "$install")
  fi
}
step "Node: npm install ./kled-X.tgz without cargo; require, import, exec" node_install

echo "60-packaging: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "failed: ${failures[*]}" >&2
  exit 1
fi
