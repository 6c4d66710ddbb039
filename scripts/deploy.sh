#!/usr/bin/env bash
# Safe deployment (the migration-job pattern), from the repository root:
#   1. build the image and deploy a new revision WITHOUT traffic (first deploy: with traffic,
#      as there is no old revision to protect and gcloud refuses --no-traffic on a new service),
#   2. point the kura-migrator job at that revision's exact image digest,
#   3. run the job (`kura migrate` = alembic upgrade heads) and wait,
#   4. only if it succeeded, send all traffic to that very revision (--to-revisions REV=100).
# If any step fails, the script stops with a non-zero status and traffic stays where it was.
#
#   scripts/deploy.sh                        deploy the working tree's commit
#   scripts/deploy.sh --rollback [REVISION]  all traffic back to REVISION (default: the
#                                            revision that served before the current one)
#   IMAGE=REGISTRY/NAME@sha256:… scripts/deploy.sh  the same with an image built elsewhere
set -euo pipefail

# shellcheck source=config/common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/config/common.sh"
REPO_ROOT="$(cd "${CONFIG_DIR}/../.." && pwd)"
# The label each revision carries with the revision that served when it was deployed: what a
# rollback goes back to (a staged revision whose migration failed never served, so it is
# never a rollback target).
PREVIOUS_LABEL=kura_previous

log() { printf '==> %s\n' "$*"; }
fail() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
usage() {
  sed -n '10,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

common=(--project "$PROJECT_ID" --region "$REGION")

# The revision serving the largest share of traffic ("" when the service does not exist).
serving_revision() {
  local json status=0
  json="$(gcloud_lookup gcloud run services describe "$SERVICE_NAME" "${common[@]}" \
    --format json)" || status=$?
  (( status == 1 )) && return 0
  (( status == 0 )) || exit "$status"
  python3 -c '
import json, sys
traffic = [e for e in json.load(sys.stdin).get("status", {}).get("traffic", []) if e.get("percent")]
print(max(traffic, key=lambda e: e["percent"])["revisionName"] if traffic else "")
' <<<"$json"
}

rollback() {
  local target="${1:-}" current
  current="$(serving_revision)"
  [[ -n "$current" ]] || fail "${SERVICE_NAME} does not exist in ${PROJECT_ID}/${REGION}: nothing to roll back"
  if [[ -z "$target" ]]; then
    target="$(gcloud run revisions describe "$current" "${common[@]}" \
      --format "value(metadata.labels.${PREVIOUS_LABEL})")"
    [[ -n "$target" ]] || fail "no previous revision is recorded on ${current} (its first" \
      "deploy); name one: scripts/deploy.sh --rollback REVISION (see: gcloud run revisions" \
      "list --service ${SERVICE_NAME} --region ${REGION})"
  fi
  if ! resource_exists gcloud run revisions describe "$target" "${common[@]}"; then
    fail "revision ${target} does not exist (see: gcloud run revisions list --service ${SERVICE_NAME} --region ${REGION})"
  fi
  log "Rollback: all traffic from ${current} to ${target}"
  gcloud run services update-traffic "$SERVICE_NAME" "${common[@]}" \
    --to-revisions "${target}=100" --quiet
  log "Traffic on ${target}. The database keeps every migration applied since: releases are"
  log "expand/contract (docs/ops/infrastructure-and-deploy.md, Rollback), so ${target} runs on it."
}

case "${1:-}" in
  "") ;;
  --rollback)
    rollback "${2:-}"
    exit 0
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac

check_connection_budget
# GIT_SHA: the commit (Cloud Build passes $SHORT_SHA: its upload has no .git).
sha="${GIT_SHA:-$(git -C "$REPO_ROOT" rev-parse --short=8 HEAD 2>/dev/null || true)}"
suffix="${REVISION_SUFFIX:-${sha:-manual}-$(date -u +%Y%m%d%H%M%S)}"
revision="${SERVICE_NAME}-${suffix}"
# IMAGE: an image already built and pushed (cloudbuild.yaml); otherwise Cloud Build builds the
# working tree (`--source`, what .gcloudignore lets through).
if [[ -n "${IMAGE:-}" ]]; then
  build=(--image "$IMAGE")
else
  build=(--source "$REPO_ROOT")
fi

env_file="$(mktemp)"
trap 'rm -f "$env_file"' EXIT
cat "${CONFIG_DIR}/env-vars.yaml" > "$env_file"
{
  printf 'GOOGLE_CLOUD_PROJECT: %s\nBACKUP_BUCKET: %s\n' "$PROJECT_ID" "$BUCKET"
  printf 'DB_POOL_SIZE: "%s"\nDB_MAX_OVERFLOW: "%s"\nJOB_POOL_SIZE: "%s"\n' \
    "$DB_POOL_SIZE" "$DB_MAX_OVERFLOW" "$JOB_POOL_SIZE"
  if [[ "$sha" =~ ^[0-9a-f]{7,40}$ ]]; then
    printf 'KURA_GIT_SHA: "%s"\n' "$sha"
  fi
} >> "$env_file"

secrets="$(secrets_flag)"
runtime=(
  --service-account "$SERVICE_ACCOUNT"
  --set-secrets "$secrets"
  --env-vars-file "$env_file"
)

log "Step 1/4: build and deploy revision ${revision}"
serving="$(serving_revision)"
traffic=(--no-traffic)
labels=()
if [[ -z "$serving" ]]; then
  log "First deployment of ${SERVICE_NAME}: it starts with traffic (nothing to protect yet)"
  traffic=()
else
  log "Currently serving: ${serving} (it keeps all traffic until step 4)"
  labels=(--update-labels "${PREVIOUS_LABEL}=${serving}")
fi
# The worker runs inside the service: CPU is never throttled and one instance stays up, so
# scheduled jobs (backups, briefings, analyses) run on time. A staged revision's worker waits
# until the job has migrated the database to its schema.
if ! gcloud run deploy "$SERVICE_NAME" "${common[@]}" "${build[@]}" \
  --revision-suffix "$suffix" "${traffic[@]}" "${labels[@]}" \
  --port 8000 --allow-unauthenticated --no-cpu-throttling \
  --min-instances 1 --max-instances "$MAX_INSTANCES" \
  --add-cloudsql-instances "$INSTANCE_CONNECTION" "${runtime[@]}" --quiet; then
  fail "the build or deploy of ${revision} failed (gcloud's message is above); nothing was" \
    "migrated and traffic is unchanged${serving:+ (still on ${serving})}"
fi

log "Step 2/4: point ${JOB_NAME} at the revision's exact image"
digest="$(gcloud run revisions describe "$revision" "${common[@]}" \
  --format 'value(status.imageDigest)')"
if [[ "$digest" != *@sha256:* ]]; then
  fail "revision ${revision} reports no image digest ('${digest}'); nothing migrated"
fi
job_flags=(
  --image "$digest" --max-retries 0 --task-timeout 1800
  --command kura --args migrate
  --set-cloudsql-instances "$INSTANCE_CONNECTION" "${runtime[@]}"
)
if resource_exists gcloud run jobs describe "$JOB_NAME" "${common[@]}"; then
  gcloud run jobs update "$JOB_NAME" "${common[@]}" "${job_flags[@]}" --quiet
else
  gcloud run jobs create "$JOB_NAME" "${common[@]}" "${job_flags[@]}" --quiet
fi

log "Step 3/4: run the migrations"
if ! gcloud run jobs execute "$JOB_NAME" "${common[@]}" --wait; then
  echo "error: migrations failed; traffic was NOT moved to ${revision}${serving:+ (still on ${serving})}." >&2
  echo "Read the job's logs with:" >&2
  echo "  gcloud logging read 'resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"${JOB_NAME}\"' --project ${PROJECT_ID} --limit 100" >&2
  exit 1
fi

log "Step 4/4: all traffic to ${revision}"
gcloud run services update-traffic "$SERVICE_NAME" "${common[@]}" \
  --to-revisions "${revision}=100" --quiet

log "Deployed ${revision} (${digest})"
if [[ -n "$serving" ]]; then
  log "Roll back with: scripts/deploy.sh --rollback   (traffic back to ${serving})"
fi
