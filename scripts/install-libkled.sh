#!/usr/bin/env bash
# Builds libkled and installs it for C (and cgo) programs:
#   PREFIX/lib/libkled.so, PREFIX/lib/libkled.a, PREFIX/include/kled.h,
#   PREFIX/lib/pkgconfig/kled.pc
# so that   cc prog.c $(pkg-config --cflags --libs kled)   works (with
# PKG_CONFIG_PATH=PREFIX/lib/pkgconfig unless PREFIX is /usr or /usr/local).
#
# Usage: scripts/install-libkled.sh PREFIX [--debug]
#   --debug   install the debug build (faster to build; used by the tests)
# The kled-agent is embedded in libkled: there is nothing else to install.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 PREFIX [--debug]" >&2; exit 2; }
[ $# -ge 1 ] || usage
prefix=$1
shift
profile=release
for arg in "$@"; do
  case $arg in
    --debug) profile=debug ;;
    *) usage ;;
  esac
done
case $prefix in /*) ;; *) prefix="$PWD/$prefix" ;; esac

[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
if [ "$profile" = release ]; then cargo build -p kled-ffi --release; else cargo build -p kled-ffi; fi
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
built="$target_dir/$profile"
version=$(sed -n 's/^#define KLED_VERSION "\(.*\)"$/\1/p' include/kled.h)
[ -n "$version" ] || { echo "include/kled.h has no KLED_VERSION" >&2; exit 1; }

libdir="$prefix/lib"
install -d "$libdir/pkgconfig" "$prefix/include"
install -m 0755 "$built/libkled.so" "$libdir/libkled.so"
install -m 0644 "$built/libkled.a" "$libdir/libkled.a"
install -m 0644 include/kled.h "$prefix/include/kled.h"

# Outside the loader's default directories, record where libkled is in the
# programs that link it, so they run without LD_LIBRARY_PATH.
rpath=""
case $prefix in
  /usr | /usr/local) ;;
  *) rpath=" -Wl,-rpath,\${libdir}" ;;
esac
# What the Rust standard library needs when libkled.a is linked statically
# (rustc --print native-static-libs for x86_64/aarch64 linux-gnu).
cat >"$libdir/pkgconfig/kled.pc" <<EOF
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: kled
Description: named, long-lived terminals for programs, people and AI agents (C API)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lkled$rpath
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
EOF
echo "installed libkled $version ($profile) in $prefix"
