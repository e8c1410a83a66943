#!/usr/bin/env bash
# Installs and configures real container engines for kled's tests, and builds
# the test images locally (no registry is reachable on these machines).
#
#   scripts/engine.sh [setup]   install, configure, start both API services, build images, verify
#   scripts/engine.sh status    for each engine socket: does it answer, which OCI runtime runs there
#   scripts/engine.sh start     start the API services again (after setup and stop)
#   scripts/engine.sh stop      stop the API services this script started
#
# Idempotent: every step checks before it acts, so a second run takes seconds.
# Why each setting is what it is: shared/ENGINE-NOTES.md (Podman 4.3, Debian 12,
# hybrid cgroups, no CAP_SYS_RESOURCE).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"   # rootful podman, /etc and /run: root only

RUN_DIR=/run/kled LOG_DIR=/var/log/kled CACHE_DIR=/var/cache/kled
PODMAN_SOCK=/run/podman/podman.sock      # runc: Docker-compatible API, default runtime
GVISOR_SOCK=$RUN_DIR/gvisor.sock         # gVisor: Podman 4.3's API ignores HostConfig.Runtime,
                                         # so isolation needs a service whose *default* is runsc
CONF=/etc/containers/containers.conf.d/kled.conf
RUNSC_WRAPPER=/usr/local/libexec/kled/runsc
DEBIAN_INCLUDE=bash,python3,neovim,ca-certificates
BUSYBOX=localhost/kled-busybox DEBIAN=localhost/kled-debian

# --- timing: every step is timed; the table prints on exit, even after a failure
TIMES=() T_START=$(date +%s%N)
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
step() {  # step LABEL CMD... : runs CMD and records how long it took
  local label=$1 t0; shift; t0=$(date +%s%N)
  log "$label"
  "$@"
  TIMES+=("$(printf '%8d ms  %s' "$(ms_since "$t0")" "$label")")
}
print_times() {
  [ ${#TIMES[@]} -gt 0 ] || return 0
  printf '\n== timings\n'; printf '%s\n' "${TIMES[@]}"
  printf '%8d ms  total\n' "$(ms_since "$T_START")"
}

gvisor_packaged() { command -v runsc >/dev/null; }

# --- 1. packages
install_packages() {
  local want=(podman runc uidmap slirp4netns busybox-static debootstrap curl)
  # runsc is packaged for bookworm, but not for every Debian: without it, go on without gVisor.
  if ! dpkg-query -W -f='${Status}' runsc 2>/dev/null | grep -q "ok installed"; then
    [ -n "$APT_UPDATED" ] || { as_root apt-get update -qq; APT_UPDATED=1; }
    # Not "apt-cache | grep -q": grep quits early, apt-cache dies of SIGPIPE, and pipefail says no.
    local policy; policy=$(apt-cache policy runsc)
    if grep -q 'Candidate: [^(]' <<<"$policy"; then want+=(runsc)
    else echo "NOTE: runsc (gVisor) is not packaged for this Debian: continuing without gVisor" >&2; fi
  fi
  ensure_packages "${want[@]}"
}

# --- 2. configuration
CONF_CHANGED=
write_if_changed() {  # write_if_changed FILE MODE < CONTENT : leaves an identical file untouched
  local new; new=$(cat)
  [ -f "$1" ] && [ "$(cat "$1")" = "$new" ] && return 0
  mkdir -p "$(dirname "$1")"; printf '%s\n' "$new" >"$1"; chmod "$2" "$1"
  echo "wrote $1"; CONF_CHANGED=1
}
configure() {
  if gvisor_packaged; then
    # Plain runsc fails here: "cannot run with network enabled in root network namespace";
    # --network=host avoids that, --ignore-cgroups the hybrid cgroups (ENGINE-NOTES).
    write_if_changed "$RUNSC_WRAPPER" 755 <<'EOF'
#!/bin/sh
# Written by kled's scripts/engine.sh: runsc as podman's "runsc" runtime (see ENGINE-NOTES).
exec /usr/bin/runsc --network=host --ignore-cgroups "$@"
EOF
  fi
  # A kled-owned drop-in, so the machine's own containers.conf stays untouched.
  write_if_changed "$CONF" 644 <<EOF
# Written by kled's scripts/engine.sh; see shared/ENGINE-NOTES.md.
[containers]
# Raising rlimits is not permitted here (no CAP_SYS_RESOURCE): only lower them.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
# crun fails on hybrid cgroups; there is no systemd to manage cgroups.
runtime = "runc"
cgroup_manager = "cgroupfs"
$(gvisor_packaged && printf '[engine.runtimes]\nrunsc = ["%s"]' "$RUNSC_WRAPPER")
EOF
  # Podman falls back to runc and cgroupfs here anyway, so only the runsc path proves that
  # the drop-in is read (verify's "ulimit -n" = 1024 proves it too, with or without gVisor).
  local got; got=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}')
  [ "$got" = "runc cgroupfs" ] || { echo "podman: runtime/cgroups are '$got', not 'runc cgroupfs'" >&2; return 1; }
  echo "podman info: $got"
  if gvisor_packaged; then
    got=$(podman --runtime runsc info --format '{{.Host.OCIRuntime.Path}}')
    [ "$got" = "$RUNSC_WRAPPER" ] || { echo "podman ignores $CONF: runsc is '$got'" >&2; return 1; }
    echo "podman info: runtime runsc is $got"
  fi
}

# --- 3. the two Docker-compatible API services
# Three tries: on a loaded machine one slow ping must not get a live service
# (and every container of everyone using it) restarted.
answers() {
  local _
  for _ in 1 2 3; do
    curl -fsS --max-time 5 --unix-socket "$1" http://d/_ping >/dev/null 2>&1 && return 0
  done
  return 1
}
stop_service() {  # stop_service NAME SOCK : stops what this script started, nothing else
  local pid; pid=$(cat "$RUN_DIR/$1.pid" 2>/dev/null) || true
  # Check the pid is still our podman service: pids get reused.
  if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'system service'; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "$1: stopped pid $pid"
  fi
  rm -f "$RUN_DIR/$1.pid"
  if [ -S "$2" ] && ! answers "$2"; then rm -f "$2"; fi   # a stale socket blocks the next start
}
start_service() {  # start_service NAME SOCK [PODMAN_FLAGS...] : starts it unless it answers
  local name=$1 sock=$2 log=$LOG_DIR/$1.log; shift 2
  if answers "$sock" && [ -z "$CONF_CHANGED" ]; then echo "$name: already answers on $sock"; return 0; fi
  stop_service "$name" "$sock"        # the config changed, or a dead service left its socket
  if answers "$sock"; then echo "$name: answers on $sock but was not started here: left alone"; return 0; fi
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$(dirname "$sock")"
  # setsid: its own session, so it outlives this script and its caller's process group.
  # (No job control in a script, so setsid execs in place and $! is podman's pid.)
  # cd /: the service outlives this checkout; started from inside a clone that is later
  # deleted, it keeps answering /_ping but every container start fails ("write child:
  # broken pipe").
  (cd / && exec setsid podman "$@" system service --time=0 "unix://$sock" >>"$log" 2>&1 </dev/null) &
  echo $! >"$RUN_DIR/$name.pid"
  for _ in $(seq 150); do answers "$sock" && { echo "$name: answers on $sock (pid $!)"; return 0; }; sleep 0.2; done
  echo "$name: no answer on $sock within 30 s; end of $log:" >&2; tail -n 20 "$log" >&2; return 1
}
start_services() {
  start_service podman "$PODMAN_SOCK"
  if gvisor_packaged; then start_service gvisor "$GVISOR_SOCK" --runtime runsc; fi
}

# --- 4. images, each built only when missing
build_busybox() {
  if podman image exists "$BUSYBOX"; then echo "$BUSYBOX exists"; return 0; fi
  local ctx; ctx=$(mktemp -d)
  cp scripts/images/busybox/Dockerfile /bin/busybox "$ctx/"
  podman build --network=none -t "$BUSYBOX" "$ctx"; rm -rf "$ctx"
}
debian_mirror() {  # the mirror apt already uses: the only one reachable here
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- -security | head -n1) || true
  [ -n "$m" ] || m=$(sed 's/\[[^]]*\]//' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}') || true
  echo "${m:-http://deb.debian.org/debian}"
}
build_debian() {
  if podman image exists "$DEBIAN"; then echo "$DEBIAN exists"; return 0; fi
  # The tarball's name carries the package list, so changing the list rebuilds it.
  local tarball=$CACHE_DIR/debian-bookworm-$(echo "$DEBIAN_INCLUDE" | md5sum | cut -c1-8).tar
  local root=$CACHE_DIR/rootfs
  if [ ! -s "$tarball" ]; then
    rm -rf "$root"; mkdir -p "$CACHE_DIR"
    debootstrap --variant=minbase --include="$DEBIAN_INCLUDE" bookworm "$root" "$(debian_mirror)"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*   # smaller image
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball" && rm -rf "$root"
  else echo "using cached $tarball"; fi
  podman import --change 'CMD ["/bin/bash"]' "$tarball" "$DEBIAN"
}

# --- 5. verification, through the same paths kled uses
# run_via SOCK : runs a busybox container through the Docker-compatible API (as kled does)
# and prints its kernel and first gVisor line of dmesg: that shows the runtime really used.
run_via() {
  local api=(curl -fsS --max-time 60 --unix-socket "$1") id
  id=$("${api[@]}" -H 'Content-Type: application/json' http://d/containers/create -d \
    "{\"Image\":\"$BUSYBOX\",\"Tty\":true,\"Cmd\":[\"sh\",\"-c\",\"uname -r; dmesg 2>/dev/null | grep -m1 gVisor\"]}" |
    sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p')
  [ -n "$id" ] || return 1
  "${api[@]}" -X POST "http://d/containers/$id/start" >/dev/null &&
    "${api[@]}" -X POST "http://d/containers/$id/wait" >/dev/null &&
    "${api[@]}" "http://d/containers/$id/logs?stdout=1&stderr=1" | tr -d '\r'
  "${api[@]}" -X DELETE "http://d/containers/$id?force=1" >/dev/null || true
}
runtime_of() {  # runtime_of SOCK : names the OCI runtime a container there really runs under
  local out kernel; out=$(run_via "$1") || { echo "cannot run a container"; return 0; }
  kernel=$(head -n1 <<<"$out")
  if [ "$kernel" = 4.4.0 ] || grep -q gVisor <<<"$out"; then echo "runsc (gVisor: kernel $kernel, dmesg: $(sed -n 2p <<<"$out"))"
  elif [ "$kernel" = "$(uname -r)" ]; then echo "runc (host kernel $kernel)"
  else echo "unknown (kernel '$kernel')"; fi
}
verify() {
  local out; out=$(podman run --rm "$BUSYBOX" sh -c 'echo ok; ulimit -n')
  [ "$out" = $'ok\n1024' ] || { echo "busybox under runc said: $out" >&2; return 1; }
  echo "podman run $BUSYBOX: ok (nofile limit 1024 from $CONF)"
  podman run --rm "$DEBIAN" sh -c 'python3 --version; nvim --version | head -n1'
  out=$(runtime_of "$PODMAN_SOCK"); echo "$PODMAN_SOCK: $out"
  [[ $out == runc* ]] || return 1
  if gvisor_packaged; then
    out=$(runtime_of "$GVISOR_SOCK"); echo "$GVISOR_SOCK: $out"
    [[ $out == runsc* ]] || return 1
  fi
}

status() {
  local name sock
  for name in podman gvisor; do
    sock=$PODMAN_SOCK; [ "$name" = podman ] || sock=$GVISOR_SOCK
    if answers "$sock"; then printf '%-7s %s: answers; containers run under %s\n' "$name" "$sock" "$(runtime_of "$sock")"
    else printf '%-7s %s: not answering\n' "$name" "$sock"; fi
  done
  gvisor_packaged || echo "gvisor: runsc is not installed (not packaged for this Debian?): no gVisor here"
}

case ${1:-setup} in
  setup)
    trap print_times EXIT
    step "packages" install_packages
    step "containers.conf ($CONF)" configure
    step "API services" start_services
    step "image $BUSYBOX" build_busybox
    step "image $DEBIAN" build_debian
    step "verify" verify ;;
  status) status ;;
  stop) stop_service podman "$PODMAN_SOCK"; stop_service gvisor "$GVISOR_SOCK" ;;
  start) start_services ;;   # the API services only (configured by an earlier setup)
  *) echo "usage: $0 [setup|status|start|stop]" >&2; exit 2 ;;
esac
