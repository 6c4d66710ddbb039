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
DB_TIER="${DB_TIER:-db-f1-micro}"

# Database connections: during a deploy the old revision, the staged one and the migration
# job are connected at once, so  2 x MAX_INSTANCES x per-instance + JOB  <= what the tier
# allows. Cloud SQL's default max_connections is 25 for db-f1-micro (50 for db-g1-small);
# 3 are reserved for superusers. Per instance: the web pool (DB_POOL_SIZE + DB_MAX_OVERFLOW),
# the job queue's pool (JOB_POOL_SIZE) and 2 for a backup's pg_dump and its bookkeeping;
# the migration job holds at most 2 (Alembic's and the start-up check's).
DB_MAX_CONNECTIONS="${DB_MAX_CONNECTIONS:-25}"
DB_RESERVED_CONNECTIONS="${DB_RESERVED_CONNECTIONS:-3}"
MAX_INSTANCES="${MAX_INSTANCES:-1}"
DB_POOL_SIZE="${DB_POOL_SIZE:-3}"
DB_MAX_OVERFLOW="${DB_MAX_OVERFLOW:-2}"
JOB_POOL_SIZE="${JOB_POOL_SIZE:-3}"
JOB_CONNECTIONS=2
BACKUP_CONNECTIONS=2

# Fails (and says the numbers) when the settings above can exhaust the tier's connections.
check_connection_budget() {
  local per_instance=$(( DB_POOL_SIZE + DB_MAX_OVERFLOW + JOB_POOL_SIZE + BACKUP_CONNECTIONS ))
  local needed=$(( 2 * MAX_INSTANCES * per_instance + JOB_CONNECTIONS ))
  local allowed=$(( DB_MAX_CONNECTIONS - DB_RESERVED_CONNECTIONS ))
  if (( needed > allowed )); then
    echo "error: ${needed} database connections needed during a deploy (2 revisions x" \
      "${MAX_INSTANCES} instance(s) x ${per_instance} + ${JOB_CONNECTIONS} for the job)," \
      "but ${DB_TIER} allows ${allowed} (${DB_MAX_CONNECTIONS} - ${DB_RESERVED_CONNECTIONS}" \
      "reserved): lower MAX_INSTANCES or the pool sizes, or raise the tier" >&2
    return 1
  fi
}

CONFIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SECRETS_FILE="${CONFIG_DIR}/secrets.txt"

# The secrets the service receives (names only; the list is shared by both scripts).
injected_secrets() {
  awk '$2 == "inject" { print $1 }' "$SECRETS_FILE"
}

all_secrets() {
  awk 'NF && $1 !~ /^#/ { print $1 }' "$SECRETS_FILE"
}

# --set-secrets value: NAME=NAME:VERSION for every injected secret, each pinned to the version
# "latest" names now. A revision's instances then all read the same values (":latest" is
# resolved per instance start: a SECRET_KEY added mid-rollout would split sessions), and a
# rollback brings back the secrets the old revision ran with.
secrets_flag() {
  local flag="" name version
  for name in $(injected_secrets); do
    local status=0
    version="$(gcloud_lookup gcloud secrets versions describe latest --secret "$name" \
      --project "$PROJECT_ID" --format 'value(name)')" || status=$?
    if (( status == 1 )); then
      echo "error: secret ${name} does not exist (or has no version): run scripts/setup_infra.sh" >&2
    fi
    (( status == 0 )) || exit "$status"
    flag+="${flag:+,}${name}=${name}:${version##*/}"
  done
  printf '%s' "$flag"
}

# gcloud_lookup CMD...: prints CMD's output and succeeds when the resource exists, fails (1)
# when it does not, and stops the script (exit 3) when the lookup itself failed (permissions,
# network): "could not check" is never "absent".
# gcloud's own words for "it does not exist" (from its source, mirrored by tests/fakes/gcloud):
# Cloud Run's "Cannot find service [x]" / "job" / "revision" (no "not found" in them), API
# 404s "NOT_FOUND: ...", Cloud SQL's "HTTPError 404: ...", Cloud Storage's "gs://b not found:
# 404." and Cloud SQL's "There was no instance found at ... or you are not authorized" (a 403
# it also gives for a missing instance: the create that follows then says which). A permission
# error or a disabled API is never taken for "missing": the script stops and shows it.
gcloud_lookup() {
  local err out status=0
  err="$(mktemp)"
  out="$("$@" 2>"$err" </dev/null)" || status=$?
  if (( status == 0 )); then
    rm -f "$err"
    printf '%s' "$out"
    return 0
  fi
  if grep -qE 'PERMISSION_DENIED|HTTPError 403|SERVICE_DISABLED' "$err"; then
    echo "error: permission denied (or the API is not enabled) while checking: $*" >&2
    echo "  grant the deploying account the roles in docs/ops/infrastructure-and-deploy.md" >&2
    cat "$err" >&2
    rm -f "$err"
    exit 3
  fi
  if grep -qE 'Cannot find (service|job|revision) \[|NOT_FOUND|HTTPError 404|not found: 404\.|There was no instance found at ' "$err"; then
    rm -f "$err"
    return 1
  fi
  echo "error: could not check whether a resource exists: $*" >&2
  cat "$err" >&2
  rm -f "$err"
  exit 3
}

# The same, for a caller that only needs the answer. Inside "$(...)" an `exit 3` ends only the
# subshell: callers that capture the output tell 1 (missing) from 3 (stop) themselves.
resource_exists() {
  gcloud_lookup "$@" >/dev/null
}
