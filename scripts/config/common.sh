# Shared configuration of setup_infra.sh and deploy.sh (sourced, not run).
# Every value can be overridden from the environment.
# One region for everything: Cloud Run, the migration job, Cloud SQL, the bucket and the image
# registry all live in europe-southwest1 (Madrid), next to the practices and to each other.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file

PROJECT_ID="${PROJECT_ID:-kura-os}"
REGION="${REGION:-europe-southwest1}"
SERVICE_NAME="${SERVICE_NAME:-kura-backend}"
JOB_NAME="${JOB_NAME:-kura-migrator}"
REPOSITORY="${REPOSITORY:-cloud-run-source-deploy}"
INSTANCE_NAME="${INSTANCE_NAME:-kura-primary}"
DB_NAME="${DB_NAME:-kuraosbd}"
DB_USER="${DB_USER:-kura_app}"
BUCKET="${BUCKET:-${PROJECT_ID}-kura-vault}"
SERVICE_ACCOUNT_NAME="${SERVICE_ACCOUNT_NAME:-kura-run}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
INSTANCE_CONNECTION="${PROJECT_ID}:${REGION}:${INSTANCE_NAME}"

CONFIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SECRETS_FILE="${CONFIG_DIR}/secrets.txt"

# The secrets the service receives (names only; the list is shared by both scripts).
injected_secrets() {
  awk '$2 == "inject" { print $1 }' "$SECRETS_FILE"
}

all_secrets() {
  awk 'NF && $1 !~ /^#/ { print $1 }' "$SECRETS_FILE"
}

# --set-secrets value: NAME=NAME:latest for every injected secret.
secrets_flag() {
  local flag="" name
  for name in $(injected_secrets); do
    flag+="${flag:+,}${name}=${name}:latest"
  done
  printf '%s' "$flag"
}

# Succeeds when the resource exists, fails (1) when it does not, and stops the script when the
# lookup itself failed (permissions, network): "could not check" is never "absent".
# gcloud's own words for "it does not exist" (from its source, mirrored by tests/fakes/gcloud):
# Cloud Run's "Cannot find service [x]" / "job" / "revision" (no "not found" in them), API
# 404s "NOT_FOUND: ...", Cloud SQL's "HTTPError 404: ...", Cloud Storage's "gs://b not found:
# 404." and Cloud SQL's "There was no instance found at ... or you are not authorized" (a 403
# it also gives for a missing instance: the create that follows then says which). A permission
# error or a disabled API is never taken for "missing": the script stops and shows it.
resource_exists() {
  local err status=0
  err="$(mktemp)"
  "$@" >/dev/null 2>"$err" </dev/null || status=$?
  if (( status == 0 )); then
    rm -f "$err"
    return 0
  fi
  if grep -qE 'PERMISSION_DENIED|HTTPError 403|SERVICE_DISABLED' "$err"; then
    echo "error: permission denied (or the API is not enabled) while checking: $*" >&2
    echo "  grant the deploying account the roles in docs/ops/infrastructure-and-deploy.md" >&2
    cat "$err" >&2
    rm -f "$err"
    exit 1
  fi
  if grep -qE 'Cannot find (service|job|revision) \[|NOT_FOUND|HTTPError 404|not found: 404\.|There was no instance found at ' "$err"; then
    rm -f "$err"
    return 1
  fi
  echo "error: could not check whether a resource exists: $*" >&2
  cat "$err" >&2
  rm -f "$err"
  exit 1
}
