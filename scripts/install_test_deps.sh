#!/bin/sh
# System packages the test suite needs beyond PyPI, installed only where missing:
#   postgresql-15 — the production Cloud SQL version, for the restore-compatibility test;
#   chromium      — the operator console's browser tests (driven by Playwright).
# Needs root and apt-get (Debian/Ubuntu). Elsewhere it says what is missing and the tests that
# need it are reported as skipped, with the reason.
set -eu

missing=""
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing="$missing postgresql-15"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: not installed:$missing (needs root and apt-get); tests using them will be skipped" >&2
    exit 0
fi

echo "Installing system packages for the tests:$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # $missing is a list of package names, split on purpose
if ! apt-get install -y -q $missing >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q $missing >/dev/null
fi
