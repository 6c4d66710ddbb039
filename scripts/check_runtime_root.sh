#!/usr/bin/env bash
# Issue #17: run the Dockerfile's runtime stage in a debootstrapped Debian 12 root (no Docker
# daemon, no python:3.11-slim-bookworm image) and smoke-test the installed app as its user.
# Usage (as root): scripts/check_runtime_root.sh [WORK_DIR]   default /tmp/kura-runtime-root;
# KEEP=1 keeps the buildah container for a look around; PYTHON picks the host's 3.11.
# shellcheck disable=SC2329 # phase() and the EXIT trap call the functions by name
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(realpath -m "${1:-/tmp/kura-runtime-root}") PYTHON=${PYTHON:-python3.11}
ROOT=$WORK/root MIRROR=http://deb.debian.org/debian CTR="" PHASE="" LOG="" RUN_USER=root
FAILED=0 OUT="" RC=0 TIMES=() RESULTS=()
exec 3>&1 # the checks' output goes to the terminal, the phases' to their logs

summary() {
  local rc=$?
  if [[ -n $CTR && -z ${KEEP:-} ]]; then buildah rm "$CTR" >/dev/null 2>&1 || true; fi
  if ((rc != 0)) && [[ -n $PHASE ]]; then echo "!! $PHASE failed (exit $rc):" && tail -25 "$LOG"; fi
  echo "== summary (work dir $WORK, total ${SECONDS}s)"
  ((${#TIMES[@]} + ${#RESULTS[@]})) && printf '  %s\n' "${TIMES[@]}" "${RESULTS[@]}"
  if ((rc == 0)); then echo "RESULT: OK"; else echo "RESULT: FAILED"; fi
} >&3 2>&1 # an exit inside a phase would otherwise leave it writing to that phase's log
trap summary EXIT
phase() {
  PHASE=$1 LOG=$WORK/logs/$1.log && echo "== $1 (log: $LOG)"
  local t0=${EPOCHREALTIME/./} dt
  "${@:2}" >"$LOG" 2>&1
  dt=$(((${EPOCHREALTIME/./} - t0) / 100000))
  TIMES+=("$(printf '%-9s %4d.%ds' "$1" $((dt / 10)) $((dt % 10)))")
  PHASE=""
}

# crun cannot create containers here ("cgroups in hybrid mode not supported"), so buildah's
# chroot isolation; it still mounts /proc, /dev, /sys and resolv.conf, and applies ENV/USER.
in_root() { buildah run --isolation chroot "$CTR" -- "$@" </dev/null; }
host_tools() {
  command -v debootstrap || { apt-get update && apt-get install -y debootstrap; }
  command -v buildah "$PYTHON" | grep -c / | grep -qx 2 || { echo "need buildah, $PYTHON"; exit 1; }
}
bootstrap() {
  if [[ -f $WORK/.debootstrap-ok ]]; then echo "reusing $ROOT"; return; fi
  rm -rf "$ROOT"; debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
  touch "$WORK/.debootstrap-ok"
}

wheels() { # the build stage: its COPY lines (minus what .dockerignore drops), then its RUN
  rm -rf "$WORK/context" "$WORK/wheels" "$WORK/build-venv"; mkdir -p "$WORK/context"
  tar -C "$REPO" --exclude='*.egg-info' --exclude=__pycache__ -cf - \
    pyproject.toml README.md alembic.ini requirements src | tar -C "$WORK/context" -xf -
  "$PYTHON" -m venv "$WORK/build-venv"; cd "$WORK/context"
  local pip=$WORK/build-venv/bin/pip
  "$pip" install --no-cache-dir --require-hashes -r requirements/build.lock
  "$pip" wheel --no-cache-dir --require-hashes -r requirements/base.lock --wheel-dir "$WORK/wheels"
  "$pip" wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir "$WORK/wheels" .
}

base() { # stands in for python:3.11-slim-bookworm: Debian's python3, in a venv (PEP 668)
  CTR=$(buildah from scratch)
  buildah copy --quiet "$CTR" "$ROOT/" /
  # minbase lists only `bookworm`; the Debian images also have -updates and -security.
  in_root sh -c "printf '%s\n' 'deb $MIRROR bookworm-updates main' \
    'deb http://deb.debian.org/debian-security bookworm-security main' >>/etc/apt/sources.list"
  in_root sh -c 'apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/venv'
  buildah config --env LANG=C.UTF-8 \
    --env PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$CTR"
}

runtime() { # the Dockerfile's last stage, instruction by instruction, continuation lines joined
  local line ins args kvs
  while IFS= read -r line; do
    ins=${line%% *} args=${line#* }
    echo "+ $line"
    case $ins in
      RUN) in_root sh -c "$args" ;;
      COPY)
        [[ $args == "--from=build /wheels /wheels" ]] || { echo "unsupported COPY"; exit 1; }
        buildah copy --quiet "$CTR" "$WORK/wheels" /wheels ;;
      ENV) read -ra kvs <<<"$args" && buildah config "${kvs[@]/#/--env=}" "$CTR" ;;
      USER) RUN_USER=$args && buildah config --user "$args" "$CTR" ;;
      *) echo "  (not needed for these checks)" ;;
    esac
  done < <(awk '/^FROM /{n = 0; buf = ""; next} /^[[:space:]]*(#|$)/{next}
    {buf = buf $0} /\\$/{sub(/\\$/, "", buf); next} {out[++n] = buf; buf = ""}
    END{for (i = 1; i <= n; i++) print out[i]}' "$REPO/Dockerfile")
}

probe() {
  RC=0
  OUT=$(in_root "$@" 2>&1) || RC=$? # as the Dockerfile's USER, with its ENV
  printf '$ %s   [exit %d]\n%s\n' "$*" "$RC" "$OUT" >&3
}
expect() { # NAME REGEX CMD...: passes when CMD exits 0 and prints a line matching REGEX
  local name=$1 re=$2
  probe "${@:3}"
  if ((RC == 0)) && grep -Eq "$re" <<<"$OUT"; then
    RESULTS+=("PASS $name: $(grep -Em1 "$re" <<<"$OUT")")
  else RESULTS+=("FAIL $name: exit $RC, $(head -1 <<<"$OUT")") FAILED=1; fi
}
checks() {
  local version
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/pyproject.toml")
  expect user "uid=$RUN_USER" id
  # shellcheck disable=SC2016 # PG_BIN_DIR is the root's, expanded by its sh
  expect pg_dump 'PostgreSQL\) 15\.' sh -c 'pg_dump --version && $PG_BIN_DIR/pg_dump --version'
  expect kura "^$version\$" kura --version
  expect import '^3\.11\.' python -c 'import sys, kura.app; print(sys.version, sys.prefix)'
  expect deps '^No broken requirements' pip check
  probe kura config check # production without its secrets may refuse (exit 1/2): not a failure
  if ((RC <= 2)) && ! grep -q Traceback <<<"$OUT" && grep -Eq 'KURA OS|^error:' <<<"$OUT"; then
    RESULTS+=("PASS config: ran, exit $RC $(grep -m1 '^error:' <<<"$OUT" || true)")
  else RESULTS+=("FAIL config: exit $RC") FAILED=1; fi
}

((EUID == 0)) || { echo "run as root (debootstrap, buildah)" >&2; exit 1; }
mkdir -p "$WORK/logs"
phase tools host_tools
phase rootfs bootstrap
phase wheels wheels
phase base base
phase runtime runtime
phase checks checks
exit "$FAILED"
