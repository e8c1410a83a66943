#!/usr/bin/env bash
# The C ABI and the Go binding, against real local terminals:
#   - libkled's Rust tests (the header is current, every export is guarded)
#   - kled.h compiles as C99 and as C++ (-Wall -Wextra -Werror -pedantic)
#   - the install step: pkg-config finds kled, the C example builds with
#     `cc $(pkg-config --cflags --libs kled)` (and statically) and runs
#   - the C tests, built with -Wall -Wextra -Werror, under AddressSanitizer
#     (+UBSan) and under valgrind
#   - go vet, go test -race of bindings/go, and the Go example
#   - remote runs (kled_terminal_run_code_with, Terminal.RunCodeWith) against a
#     real `kled serve codeapi` on gVisor sandboxes, started here when
#     /run/kled/gvisor.sock is served (KLED_REQUIRE_ENGINE=1: required)
# Prints PASS/FAIL per step and exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
. scripts/lib.sh

ensure_packages gcc g++ make valgrind golang-go pkg-config python3 || exit 1
ensure_rust || exit 1

work=$(mktemp -d /tmp/kled-s20-XXXXXX)
export KLED_TEST_TMPDIR=$work
prefix=$work/prefix
bin=$work/bin
mkdir -p "$bin"

# Kills the agents that tests left running under $work (a failed test may
# have deleted its state dir already, so not by record: by the unique
# $work path in the agent's command line). Each agent leads its own
# process group, which goes with it.
kill_leftover_agents() {
  local cmdline pid killed=0
  for cmdline in /proc/[0-9]*/cmdline; do
    pid=${cmdline#/proc/}
    pid=${pid%/cmdline}
    if tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -q "kled-agent.*$work/"; then
      kill -KILL -- "-$pid" 2>/dev/null
      kill -KILL "$pid" 2>/dev/null
      killed=$((killed + 1))
    fi
  done
  echo "$killed"
}
codeapi_pid=
codeapi_home=$work/codeapi-home
stop_codeapi() {
  [ -n "$codeapi_pid" ] || return 0
  local rc=0
  kill -TERM "$codeapi_pid" 2>/dev/null
  wait "$codeapi_pid" || rc=$?
  codeapi_pid=
  return $rc
}
cleanup() {
  stop_codeapi >/dev/null 2>&1
  kill_leftover_agents >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
failures=()
# The test counts a log reports (C harness, cargo test, go test lines).
counts_in() {
  grep -E '[0-9]+ passed[,;] [0-9]+ failed|^ok ' "$1" | sed 's/^test result: //; s/; [0-9]* ignored.*//' | tr '\n' ' '
}
# step NAME CMD...: runs CMD, output to a log that is shown on failure.
step() {
  local name=$1 log
  shift
  log="$work/$(echo "$name" | tr -c 'A-Za-z0-9_-' '_').log"
  local start=$SECONDS
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'PASS  %-58s %3ss  %s\n' "$name" "$((SECONDS - start))" "$(counts_in "$log")"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL  %-58s %3ss\n' "$name" "$((SECONDS - start))"
    tail -n 60 "$log" | sed 's/^/      /'
  fi
}

cflags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pedantic -g)
tests=ffi/tests/c

log "libkled: build, install (debug) into $prefix"
if ! scripts/install-libkled.sh "$prefix" --debug; then
  echo "FAIL  build and install libkled" >&2
  exit 1
fi
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# Go: the standard library only, from Debian's golang-go; never the network.
export GOPROXY=off GOFLAGS=-mod=readonly GOTOOLCHAIN=local
# Go's build cache keys cgo packages on CGO_* but not on pkg-config's
# output, so a package cached by an earlier run would link against that
# run's (deleted) prefix: name this run's prefix in the key.
CGO_CFLAGS="$(pkg-config --cflags kled) -g -O2"
CGO_LDFLAGS="$(pkg-config --libs kled) -g -O2"
export CGO_CFLAGS CGO_LDFLAGS

# scripts/test.sh ran these already in `cargo test --workspace`; run alone,
# this suite runs them itself (a build of its own: -p selects other features).
if [ "${KLED_WORKSPACE_TESTED:-}" = 1 ]; then
  echo "libkled's Rust tests (header current, exports guarded): run by cargo test --workspace"
else
  step "cargo test -p kled-ffi (header current, exports guarded)" cargo test -p kled-ffi --quiet
fi

# A real Code Interpreter API for the remote runs of the C and Go tests:
# `kled serve codeapi` on gVisor sandboxes, in its own state dir, with a
# throwaway key. The tests read KLED_TEST_CODEAPI_URL / _KEY (and skip the
# round trip, saying so, when they are unset).
start_codeapi() {
  if [ ! -S /run/kled/gvisor.sock ]; then
    echo "no gVisor engine at /run/kled/gvisor.sock (sudo scripts/engine.sh)"
    [ "${KLED_REQUIRE_ENGINE:-}" = 1 ] && return 1
    echo "SKIP: the remote round trips will be skipped"
    return 0
  fi
  cargo build -p kled-cli --quiet || return 1
  local key=c-go-key-$$-$RANDOM url="" i
  printf 'codeapi:\n  sessions: { warm: 1, max_sandboxes: 4 }\n  rate_limit: { requests: 0 }\n' >"$work/codeapi.yaml"
  env -u KLED_LOG KLED_HOME="$codeapi_home" KLED_CODEAPI_KEYS="$key" \
    target/debug/kled serve codeapi --listen 127.0.0.1:0 --config "$work/codeapi.yaml" 2>"$work/codeapi.log" &
  codeapi_pid=$!
  for i in $(seq 1 900); do # the first line says it is ready: up to 3 minutes
    url=$(head -n 1 "$work/codeapi.log" | grep -o 'http://[^ ]*/v1' || true)
    [ -n "$url" ] && break
    if ! kill -0 "$codeapi_pid" 2>/dev/null; then
      codeapi_pid=
      cat "$work/codeapi.log"
      return 1
    fi
    sleep 0.2
  done
  [ -n "$url" ] || { cat "$work/codeapi.log"; return 1; }
  echo "kled serve codeapi at $url"
  export KLED_TEST_CODEAPI_URL=$url KLED_TEST_CODEAPI_KEY=$key
}
step "kled serve codeapi for the remote runs" start_codeapi

header_c99() {
  printf '#include <kled.h>\nint main(void) { kled_event e; (void)e; return kled_abi_version() == KLED_ABI_VERSION ? 0 : 1; }\n' \
    >"$work/h99.c"
  gcc -std=c99 -Wall -Wextra -Werror -pedantic $(pkg-config --cflags kled) -c "$work/h99.c" -o "$work/h99.o"
}
step "kled.h compiles as C99" header_c99
header_cxx() {
  g++ -std=c++11 -Wall -Wextra -Werror -pedantic "$tests/header_cxx.cpp" $(pkg-config --cflags --libs kled) \
    -o "$bin/header_cxx" && "$bin/header_cxx"
}
step "kled.h compiles and links as C++" header_cxx

pkgconfig_check() {
  local want
  want=$(sed -n 's/^#define KLED_VERSION "\(.*\)"$/\1/p' include/kled.h)
  [ "$(pkg-config --modversion kled)" = "$want" ] || { echo "pkg-config says $(pkg-config --modversion kled), header $want"; return 1; }
  cc examples/c/hello.c $(pkg-config --cflags --libs kled) -o "$bin/hello"
  KLED_HOME=$work/home-c "$bin/hello" | tee "$work/hello.out"
  grep -qx 'hello from /bin/sh' "$work/hello.out" && grep -qx 'exit code: 3' "$work/hello.out"
}
step "pkg-config: cc \$(pkg-config --cflags --libs kled) + C example" pkgconfig_check

make_example() {
  make -s -C examples/c hello && KLED_HOME=$work/home-make examples/c/hello | grep -qx 'exit code: 3'
  local rc=$?
  rm -f examples/c/hello
  return $rc
}
step "C example with make (examples/c/Makefile)" make_example

static_check() {
  # libkled.a and Libs.private: a program with no libkled.so at run time.
  local libs
  libs=$(pkg-config --static --libs-only-l kled | sed 's/-lkled//')
  cc examples/c/hello.c $(pkg-config --cflags kled) "$prefix/lib/libkled.a" $libs -o "$bin/hello-static" || return 1
  ! ldd "$bin/hello-static" | grep -q libkled && KLED_HOME=$work/home-static "$bin/hello-static" | grep -qx 'exit code: 3'
}
step "C example linked statically (libkled.a, Libs.private)" static_check

build_c() { # build_c NAME OUTPUT EXTRA_FLAGS...
  local name=$1 out=$2
  shift 2
  gcc "${cflags[@]}" "$@" $(pkg-config --cflags kled) "$tests/$name.c" $(pkg-config --libs kled) -lpthread -o "$out"
}
build_sanitized() {
  local san=(-fsanitize=address,undefined -fno-omit-frame-pointer)
  build_c test_api "$bin/test_api-asan" "${san[@]}" && build_c test_fork "$bin/test_fork-asan" "${san[@]}"
}
build_plain() { build_c test_api "$bin/test_api" && build_c test_fork "$bin/test_fork"; }
build_fuzz() {
  build_c fuzz_json "$bin/fuzz_json-asan" -fsanitize=address,undefined -fno-omit-frame-pointer
}
step "C tests build with -Wall -Wextra -Werror (ASan+UBSan)" build_sanitized
step "C tests build with -Wall -Wextra -Werror (for valgrind)" build_plain

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
step "C test_api under AddressSanitizer" "$bin/test_api-asan"
step "C test_fork under AddressSanitizer" "$bin/test_fork-asan"
step "C fuzz_json builds (ASan+UBSan)" build_fuzz
step "C ABI JSON arguments fuzzed under AddressSanitizer (bounded)" "$bin/fuzz_json-asan"
unset ASAN_OPTIONS UBSAN_OPTIONS

vg=(valgrind -q --error-exitcode=1 --show-leak-kinds=definite)
step "C test_api under valgrind (no definite leaks)" \
  "${vg[@]}" --leak-check=full --errors-for-leak-kinds=definite "$bin/test_api"
# The forked children inherit none of the parent's threads, so whatever
# those threads held (tokio's worker state) is unreachable in a child and
# valgrind would call it lost; leaks are covered by test_api above, this
# checks every access in parent and children.
step "C test_fork under valgrind (memory errors)" "${vg[@]}" --leak-check=no "$bin/test_fork"

go_vet() { (cd bindings/go && go vet ./...) && (cd examples/go && go vet .); }
step "go vet (bindings/go, examples/go)" go_vet
go_test() {
  (cd bindings/go && go test -race -count=1 -v ./...) >"$work/go-test.out" 2>&1
  local rc=$?
  grep -E '^(--- |ok|FAIL|PASS)' "$work/go-test.out"
  [ $rc -eq 0 ] || tail -n 40 "$work/go-test.out"
  return $rc
}
step "go test -race (bindings/go)" go_test
go_example() {
  (cd examples/go && go build -o "$bin/hello-go" .) || return 1
  KLED_HOME=$work/home-go "$bin/hello-go" | tee "$work/hello-go.out"
  grep -qx 'hello from /bin/sh' "$work/hello-go.out" && grep -qx 'exit code: 3' "$work/hello-go.out"
}
step "Go example (examples/go)" go_example

# SIGTERM: the server removes its sandboxes and exits 0.
codeapi_stops() {
  [ -n "$codeapi_pid" ] || { echo "not started"; return 0; }
  stop_codeapi || { cat "$work/codeapi.log"; return 1; }
  local left
  left=$(podman --remote --url unix:///run/kled/gvisor.sock ps -aq --filter "label=io.kled.home=$codeapi_home")
  [ -z "$left" ] || { echo "sandboxes left behind: $left"; return 1; }
}
step "kled serve codeapi stops cleanly (no sandboxes left)" codeapi_stops

for home in "$work"/home-*; do
  [ -d "$home/terminals" ] || continue
  if ls "$home/terminals"/*.json >/dev/null 2>&1; then
    echo "FAIL  an example left a terminal behind in $home" >&2
    failed=$((failed + 1))
    failures+=("cleanup of $home")
  fi
done

leftover=$(kill_leftover_agents)
if [ "$leftover" -gt 0 ]; then
  echo "FAIL  the tests left $leftover kled-agent(s) running (killed now)" >&2
  failed=$((failed + 1))
  failures+=("leftover agents")
fi

echo "20-c-go: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "failed: ${failures[*]}" >&2
  exit 1
fi
