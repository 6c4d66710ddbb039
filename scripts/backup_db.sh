#!/usr/bin/env bash
# Local backup (seed "Local Backup Script"): a plain-SQL dump of the development database —
# the embedded one, or DATABASE_URL when set — into backups/kuraos_YYYYMMDD_HHMMSS.sql,
# keeping the newest KEEP_BACKUPS (default 5). Run from anywhere; paths are the repo's.
#
# For production backups use the backup API or `kura backup create` (verified, signed,
# stored off-instance). This script is for a developer's laptop.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

kura="${KURA:-$repo_root/.venv/bin/kura}"
if [[ ! -x "$kura" ]]; then
  kura="$(command -v kura || true)"
fi
if [[ -z "$kura" ]]; then
  echo "error: the kura command is not installed; run 'make run' or 'make test' once" >&2
  exit 2
fi

backup_dir="${LOCAL_BACKUP_DIR:-$repo_root/backups}"
keep="${KEEP_BACKUPS:-5}"
if ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: KEEP_BACKUPS must be a positive number, got '$keep'" >&2
  exit 2
fi
umask 077  # a dump is the whole database: readable by this account only
mkdir -p "$backup_dir"

target="$backup_dir/kuraos_$(date -u +%Y%m%d_%H%M%S).sql"
if [[ -e "$target" ]]; then
  echo "error: $target already exists; try again in a second" >&2
  exit 1
fi
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

# kura db exec points pg_dump at the database through PG* variables: the password travels
# in the environment, never on a command line.
"$kura" db exec -- pg_dump --no-owner --no-acl --file="$partial"

if ! tail -n 5 "$partial" | grep -q -- '-- PostgreSQL database dump complete'; then
  echo "error: the dump is incomplete; nothing was kept" >&2
  exit 1
fi
mv "$partial" "$target"

# Retention: names sort by time, so everything before the newest $keep goes.
mapfile -t all < <(find "$backup_dir" -maxdepth 1 -type f -name 'kuraos_*.sql' | sort)
excess=$(( ${#all[@]} - keep ))
for (( i = 0; i < excess; i++ )); do
  rm -f -- "${all[$i]}"
done

size="$(du -h "$target" | cut -f1)"
echo "$target ($size)"
