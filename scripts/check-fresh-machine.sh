#!/usr/bin/env bash
# Proves the README's first command works on a fresh Debian 12 machine that has only Rust
# (rustup) and gcc: builds a minimal Debian 12 root (debootstrap --variant=minbase), gives it this
# host's Rust toolchain, copies the source in, runs the README's first command in it as root and
# checks the service comes up, answers, and exits 0 on SIGTERM. docs/testing.md has the details
# and the figures of the last runs. Not part of CI: the cold release build alone takes 5-10 min.
#
# Usage (as root; on a shared machine:  nice -n 19 scripts/check-fresh-machine.sh):
#   scripts/check-fresh-machine.sh [--from worktree|REV] [--overlay PATH]... [--keep] [--rebuild-base]
#     --from worktree   the working tree as it is, uncommitted changes included (default):
#                       tracked and untracked files, minus what .gitignore ignores (target/, var/)
#     --from REV        `git archive REV` instead (e.g. HEAD)
#     --overlay PATH    with --from REV: copy PATH (a file or folder) from the working tree on top,
#                       e.g. to check uncommitted scripts against the last commit
#     --keep            keep the run's root (with its target/) for inspection
#     --rebuild-base    debootstrap the base root again instead of using the cached one
# Environment: SELFPROV_FRESH_DIR (cache, default /var/tmp/selfprov-fresh),
#   SELFPROV_FRESH_BUILD_TIMEOUT (s, default 1800), SELFPROV_FRESH_READY_TIMEOUT (s, default 600).
#
# Layout under SELFPROV_FRESH_DIR (outside the repository on purpose: a `cargo clean` must never
# meet a bind mount of /dev):
#   base-bookworm/    debootstrapped root + `apt-get install gcc`, made once and reused
#   run/              a copy of base for this run (the fresh machine); removed at the end
#   logs/<UTC time>/  debootstrap.log, build.log, serve.log, summary.txt
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${SELFPROV_FRESH_DIR:-/var/tmp/selfprov-fresh}
build_timeout=${SELFPROV_FRESH_BUILD_TIMEOUT:-1800}
ready_timeout=${SELFPROV_FRESH_READY_TIMEOUT:-600}
suite=bookworm
mirror=http://deb.debian.org/debian
# What a fresh machine has besides minbase: rustup needs a linker, so `apt-get install gcc`
# (with its recommends, as apt does by default: that brings libc6-dev).
base_install=(gcc)

from=worktree
overlays=()
keep=0
rebuild_base=0
while (($#)); do
  case "$1" in
    --from) from=${2:?--from needs worktree or a git revision}; shift 2 ;;
    --overlay) overlays+=("${2:?--overlay needs a path}"); shift 2 ;;
    --keep) keep=1; shift ;;
    --rebuild-base) rebuild_base=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "check-fresh-machine: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$from" = worktree ] && ((${#overlays[@]})); then
  echo "check-fresh-machine: --overlay goes with --from REV" >&2; exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "check-fresh-machine: needs root (debootstrap, chroot, mounts, network namespaces)" >&2
  exit 1
fi

log() { printf 'check-fresh-machine: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

for tool in git tar chroot mount umount unshare nsenter ip setsid dpkg-query; do
  command -v "$tool" >/dev/null 2>&1 || die "this host lacks '$tool'"
done
host_rustup=${RUSTUP_HOME:-$HOME/.rustup}
host_cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
if ! [ -x "$host_cargo_bin/cargo" ] || ! [ -d "$host_rustup/toolchains" ]; then
  die "no rustup toolchain at $host_rustup with cargo in $host_cargo_bin"
fi

# The command under test: the first line of the first ```sh block of the README's Quick start.
readme_cmd=$(awk '/^## Quick start/ {q=1} q && /^```sh/ {b=1; next} b && NF {print; exit}' \
  "$repo/README.md")
[ -n "$readme_cmd" ] || die "no \`\`\`sh block under '## Quick start' in README.md"

stamp_utc=$(date -u +%Y%m%dT%H%M%SZ)
logs=$cache/logs/$stamp_utc
base=$cache/base-$suite
run=$cache/run
src_in_root=/src/selfprov
mkdir -p "$logs"
summary=$logs/summary.txt
log "logs in $logs"

# --- processes and mounts, always cleaned up --------------------------------------------------
build_pid=""
service_pid=""

# Mount points at or under $1, deepest first.
mounts_under() {
  awk -v p="$1/" '{ mp = $5; gsub(/\\040/, " ", mp); if (index(mp "/", p) == 1) print mp }' \
    /proc/self/mountinfo | sort -r
}

unmount_under() {
  local mp
  while IFS= read -r mp; do
    [ -n "$mp" ] || continue
    umount "$mp" 2>/dev/null || umount -l "$mp" || log "could not unmount $mp"
  done < <(mounts_under "$1")
}

alive() { # running, not a zombie waiting to be reaped
  local state
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# Stops the process group led by PID $1 (every process we start here is started with setsid,
# so its PID is its process group ID): SIGTERM, up to $2 seconds, then SIGKILL.
stop_group() {
  local pid=$1 grace=${2:-20} i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do alive "$pid" || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? left
  set +e
  trap - EXIT INT TERM
  if [ -n "$service_pid" ] && alive "$service_pid"; then
    log "stopping the service (PID $service_pid)"; stop_group "$service_pid"
  fi
  if [ -n "$build_pid" ] && alive "$build_pid"; then
    log "stopping the build (PID $build_pid)"; stop_group "$build_pid"
  fi
  unmount_under "$cache"
  left=$(mounts_under "$cache")
  if [ -n "$left" ]; then
    log "FAIL: still mounted (not removing anything): $left"
    rc=1
  elif [ "$keep" = 0 ] && [ -d "$run" ]; then
    rm -rf --one-file-system "$run"
  elif [ -d "$run" ]; then
    log "kept the run's root: $run"
  fi
  [ -d "$base.tmp" ] && [ -z "$left" ] && rm -rf --one-file-system "$base.tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# proc, sys and dev for a root; every mount private, so nothing propagates back to the host.
mount_system() {
  local r=$1
  mount -t proc proc "$r/proc"
  mount --bind /sys "$r/sys" && mount --make-private "$r/sys"
  mount --bind /dev "$r/dev" && mount --make-private "$r/dev"
}

bind_ro() {
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mount --make-private "$2"
  mount -o remount,bind,ro "$2"
}

# A login-like root environment in the root: PATH as rustup's ~/.cargo/env sets it, nothing
# else from this host (no proxies, no SSL_CERT_FILE, no CARGO_*).
root_env=(/usr/bin/env -i HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM=dumb
  PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
in_root() { chroot "$1" "${root_env[@]}" "${@:2}"; }

installed_packages() {
  in_root "$1" dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" {print $2}' |
    sort
}

# Prefixes every line with the seconds since $1 (bash's SECONDS).
stamp() {
  local t0=$1 line
  while IFS= read -r line; do printf '[%5ds] %s\n' "$((SECONDS - t0))" "$line"; done
}

# --- the base root: minbase + gcc, cached ------------------------------------------------------
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap on this host"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
    </dev/null >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
      </dev/null >/dev/null
  }
fi

if [ "$rebuild_base" = 1 ] || [ ! -f "$base/.selfprov-base" ]; then
  [ -z "$(mounts_under "$base")" ] || die "something is mounted under $base"
  rm -rf --one-file-system "$base" "$base.tmp"
  log "debootstrap --variant=minbase $suite from $mirror (log: $logs/debootstrap.log)"
  t=$SECONDS
  debootstrap --variant=minbase "$suite" "$base.tmp" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $logs/debootstrap.log"
  # The sources of a standard install (debootstrap writes only the main suite).
  cat >"$base.tmp/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
  [ -s "$base.tmp/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost\n' \
    >"$base.tmp/etc/hosts"
  cp /etc/resolv.conf "$base.tmp/etc/resolv.conf"
  mount_system "$base.tmp"
  log "base: apt-get install ${base_install[*]} (what rustup's users do for a linker)"
  in_root "$base.tmp" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null \
    >>"$logs/debootstrap.log" 2>&1 &&
    in_root "$base.tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      "${base_install[@]}" </dev/null >>"$logs/debootstrap.log" 2>&1 ||
    die "apt-get install ${base_install[*]} in the base failed; see $logs/debootstrap.log"
  in_root "$base.tmp" apt-get clean
  unmount_under "$base.tmp"
  {
    echo "suite=$suite mirror=$mirror made=$(date -u +%FT%TZ) in $((SECONDS - t)) s"
    echo "installed on top of minbase: ${base_install[*]}"
  } >"$base.tmp/.selfprov-base"
  mv "$base.tmp" "$base"
fi

# --- the fresh machine for this run -------------------------------------------------------------
[ -z "$(mounts_under "$run")" ] || die "something is still mounted under $run"
rm -rf --one-file-system "$run"
cp -a "$base" "$run"
cp /etc/resolv.conf "$run/etc/resolv.conf"
# This host reaches crates.io through a TLS-inspecting egress proxy whose CA it trusts from
# /usr/local/share/ca-certificates; a machine on this network has the same local CAs. They take
# effect only once ca-certificates is installed (by the command under test), as anywhere else.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$run/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$run/usr/local/share/ca-certificates/"
fi

# Rust as rustup installs it: ~/.rustup and ~/.cargo/bin, read-only from this host. CARGO_HOME
# is the root's own /root/.cargo, empty: crates come from crates.io, no cache from this host.
mount_system "$run"
bind_ro "$host_rustup" "$run/root/.rustup"
bind_ro "$host_cargo_bin" "$run/root/.cargo/bin"

# The source.
mkdir -p "$run$src_in_root"
copy_worktree() { # copies the working tree's files (tracked + untracked, not ignored) under "$@"
  (
    cd "$repo"
    git ls-files -z --cached --others --exclude-standard -- "$@" |
      while IFS= read -r -d '' f; do
        if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi # skip deleted files
      done | tar --null --no-recursion -T - -cf -
  ) | tar -xf - -C "$run$src_in_root"
}
if [ "$from" = worktree ]; then
  copy_worktree .
  source_desc="working tree of $(git -C "$repo" rev-parse --short HEAD)"
  source_desc+=" ($(git -C "$repo" status --porcelain | wc -l) uncommitted paths included)"
else
  rev=$(git -C "$repo" rev-parse --short "$from^{commit}") || die "no such revision: $from"
  git -C "$repo" archive --format=tar "$rev" | tar -xf - -C "$run$src_in_root"
  source_desc="git archive $rev"
  if ((${#overlays[@]})); then
    copy_worktree "${overlays[@]}"
    source_desc+=" + working-tree ${overlays[*]}"
  fi
fi
log "source: $source_desc"
log "command under test (README Quick start): $readme_cmd"

packages_before=$logs/packages-before.txt
installed_packages "$run" >"$packages_before"

# --- stage 1: the command with --help, on the host's network -----------------------------------
# The service binds 127.0.0.1:5060 and :8080 (sample config), which may be taken on this host, and
# the chroot shares the host's network namespace. So: first run the README's command with
# `--help` appended (passed through to `selfprov serve`) on the host network: it installs the
# packages, downloads the crates and does the cold release build, then prints serve's help and
# exits 0. Stage 2 runs the README's command exactly, in a private network namespace (only `lo`),
# where the sample ports are always free; it needs no network since everything is built.
log "stage 1: '$readme_cmd --help' (packages + cold release build; up to ${build_timeout} s)"
t_build0=$SECONDS
setsid chroot "$run" "${root_env[@]}" /bin/bash -c "cd $src_in_root && exec $readme_cmd --help" \
  </dev/null > >(stamp "$t_build0" >"$logs/build.log") 2>&1 &
build_pid=$!
while alive "$build_pid"; do
  if ((SECONDS - t_build0 > build_timeout)); then
    stop_group "$build_pid"
    die "stage 1 did not finish within ${build_timeout} s; see $logs/build.log"
  fi
  sleep 2
done
build_rc=0
wait "$build_pid" || build_rc=$?
build_pid=""
build_secs=$((SECONDS - t_build0))
sleep 0.5 # let the log's stamp loop drain
[ "$build_rc" = 0 ] || die "stage 1 exited $build_rc after ${build_secs} s; see $logs/build.log"
grep -q 'Usage: selfprov serve' "$logs/build.log" ||
  die "stage 1 exited 0 but did not print serve's help; see $logs/build.log"

installed_packages "$run" >"$logs/packages-after.txt"
new_packages=$(comm -13 "$packages_before" "$logs/packages-after.txt" | tr '\n' ' ')
requested=$(sed -n 's/.*install-deps: installing //p' "$logs/build.log" | head -1)
# Phases from the stamped log: apt-get done when cargo first speaks, then the first Compiling,
# build done at Finished.
secs_of() { grep -m1 -E "$1" "$logs/build.log" | sed -n 's/^\[ *\([0-9]*\)s\].*/\1/p'; }
t_cargo=$(secs_of '\] +(Updating|Downloading|Compiling|Locking)')
t_compile=$(secs_of '\] +Compiling ')
t_finished=$(secs_of '\] +Finished ')

# --- stage 2: the README's command exactly, in a private network namespace -----------------------
log "stage 2: '$readme_cmd' in a private network namespace (ready within ${ready_timeout} s)"
t_serve0=$SECONDS
setsid unshare --net -- /bin/bash -c 'ip link set lo up && exec "$@"' _ \
  chroot "$run" "${root_env[@]}" /bin/bash -c "cd $src_in_root && exec $readme_cmd" \
  </dev/null > >(stamp "$t_serve0" >"$logs/serve.log") 2>&1 &
service_pid=$!
ready_secs=""
while alive "$service_pid"; do
  if grep -q 'selfprov ready' "$logs/serve.log"; then ready_secs=$((SECONDS - t_serve0)); break; fi
  ((SECONDS - t_serve0 <= ready_timeout)) ||
    die "no 'selfprov ready' within ${ready_timeout} s; see $logs/serve.log"
  sleep 0.2
done
[ -n "$ready_secs" ] || die "the service exited before it was ready; see $logs/serve.log"
ready_line=$(grep -m1 'selfprov ready' "$logs/serve.log" | sed 's/\x1b\[[0-9;]*m//g')
startup_ms=$(sed -n 's/.*startup_ms=\([0-9]*\).*/\1/p' <<<"$ready_line")
recompiled=$(grep -c '\] +Compiling ' "$logs/serve.log" || true)
# cargo run execs the binary: the PID we started is the service itself.
service_exe=$(readlink "/proc/$service_pid/exe" || true)
log "ready after ${ready_secs} s (PID $service_pid, $service_exe)"

# --- checks, from inside the service's network namespace ---------------------------------------
in_ns() { nsenter --target "$service_pid" --net -- "$@"; }
admin=$(sed -n 's|.*admin=http://\([0-9.]*:[0-9]*\).*|\1|p' <<<"$ready_line")
[ -n "$admin" ] || die "no admin address in the ready line: $ready_line"
http_get() { # $1 path -> the response (headers and body)
  in_ns timeout 10 /bin/bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" &&
    printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$1" >&3 && cat <&3' \
    _ "$admin" "$1"
}
checks=()
failed=0
check() { # $1 name, $2 ok|FAIL, $3 detail
  checks+=("$(printf '%-22s %-4s %s' "$1" "$2" "$3")")
  [ "$2" = ok ] || failed=1
}
for path in /health /status; do
  resp=$(http_get "$path" 2>&1 | tr -d '\r' || true)
  status_line=$(head -1 <<<"$resp")
  body=$(sed '1,/^$/d' <<<"$resp" | tr '\n' ' ' | cut -c1-80)
  if [[ "$status_line" == "HTTP/1."?" 200"* ]]; then check "GET $path" ok "$body"
  else check "GET $path" FAIL "${status_line:-no answer}"; fi
done
bin=$src_in_root/target/release/selfprov
conf=$src_in_root/config/selfprov.toml
st_rc=0
st=$(in_ns timeout 30 chroot "$run" "${root_env[@]}" "$bin" status --config "$conf" 2>&1) || st_rc=$?
if [ "$st_rc" = 0 ]; then check "selfprov status" ok "$(head -1 <<<"$st")"
else check "selfprov status" FAIL "exit $st_rc: $(head -1 <<<"$st")"; fi
# The README's first call: the built-in test phone provisions demo user jsmith (1004, PIN 12345).
ph_rc=0
ph=$(in_ns timeout 120 chroot "$run" "${root_env[@]}" "$bin" phone --config "$conf" --digits '1004#12345#1' 2>&1) ||
  ph_rc=$?
printf '%s\n' "$ph" >"$logs/phone.log"
ph_result=$(sed -n 's/^result: //p' <<<"$ph" | head -1)
if [ "$ph_rc" = 0 ] && [ "$ph_result" = provisioned ]; then
  check "phone 1004#12345#1" ok "$(grep -E '^(call|result|new extension):' <<<"$ph" | tr '\n' ' ')"
else check "phone 1004#12345#1" FAIL "exit $ph_rc, result '${ph_result}' (see $logs/phone.log)"; fi

# --- SIGTERM by PID: drains and exits 0 ---------------------------------------------------------
kill -TERM "$service_pid"
t_term=$SECONDS
while alive "$service_pid" && ((SECONDS - t_term < 90)); do sleep 0.2; done
if alive "$service_pid"; then
  check "SIGTERM" FAIL "still running after 90 s"
else
  term_rc=0
  wait "$service_pid" || term_rc=$?
  if [ "$term_rc" = 0 ]; then check "SIGTERM" ok "exit 0 after $((SECONDS - t_term)) s"
  else check "SIGTERM" FAIL "exit $term_rc"; fi
  service_pid=""
fi
sleep 0.5

# --- summary ------------------------------------------------------------------------------------
{
  echo "fresh-machine check, $(date -u '+%F %H:%M UTC'), $(nproc) CPUs, $(in_root "$run" cat /etc/debian_version 2>/dev/null | sed 's/^/Debian /') minbase + ${base_install[*]}"
  echo "source:            $source_desc"
  echo "command:           $readme_cmd"
  echo "rust:              $(in_root "$run" rustc --version 2>/dev/null) (host's rustup, read-only; fresh CARGO_HOME)"
  echo "install-deps:      ${requested:-nothing (all present)}"
  echo "packages installed: $(wc -w <<<"$new_packages") -- ${new_packages:-none}"
  echo "stage 1 (--help):  ${build_secs} s: apt-get done at ${t_cargo:-?} s, compiling from ${t_compile:-?} s, build finished at ${t_finished:-?} s"
  echo "stage 2:           ready after ${ready_secs} s (service startup_ms=${startup_ms:-?}; crates recompiled: ${recompiled})"
  printf '  %s\n' "${checks[@]}"
  if [ "$failed" = 0 ]; then echo "result:            PASS"; else echo "result:            FAIL"; fi
} | tee "$summary"
log "logs: $logs"
[ "$failed" = 0 ]
