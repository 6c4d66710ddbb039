#!/usr/bin/env bash
# Safe deployment (the migration-job pattern), from the repository root:
#   1. build the image and deploy a new revision WITHOUT traffic (first deploy: with traffic,
#      as there is no old revision to protect),
#   2. point the kura-migrator job at that revision's exact image digest,
#   3. run the job (`kura migrate` = alembic upgrade heads) and wait,
#   4. only if it succeeded, send all traffic to the new revision.
# If step 3 fails, the script stops with a non-zero status and traffic stays where it was.
set -euo pipefail

# shellcheck source=config/common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/config/common.sh"
REPO_ROOT="$(cd "${CONFIG_DIR}/../.." && pwd)"

log() { printf '==> %s\n' "$*"; }

suffix="${REVISION_SUFFIX:-$(git -C "$REPO_ROOT" rev-parse --short=8 HEAD 2>/dev/null || echo manual)-$(date -u +%Y%m%d%H%M%S)}"
revision="${SERVICE_NAME}-${suffix}"

env_file="$(mktemp)"
trap 'rm -f "$env_file"' EXIT
cat "${CONFIG_DIR}/env-vars.yaml" > "$env_file"
printf 'GOOGLE_CLOUD_PROJECT: %s\nBACKUP_BUCKET: %s\n' "$PROJECT_ID" "$BUCKET" >> "$env_file"

common=(--project "$PROJECT_ID" --region "$REGION")
runtime=(
  --service-account "$SERVICE_ACCOUNT"
  --set-secrets "$(secrets_flag)"
  --env-vars-file "$env_file"
)

log "Step 1/4: build and deploy revision ${revision}"
traffic=(--no-traffic)
if ! resource_exists gcloud run services describe "$SERVICE_NAME" "${common[@]}"; then
  log "First deployment of ${SERVICE_NAME}: it starts with traffic (nothing to protect yet)"
  traffic=()
fi
# The worker runs inside the service: CPU is never throttled and one instance stays up, so
# scheduled jobs (backups, briefings, analyses) run on time.
gcloud run deploy "$SERVICE_NAME" "${common[@]}" --source "$REPO_ROOT" \
  --revision-suffix "$suffix" "${traffic[@]}" \
  --port 8000 --allow-unauthenticated --no-cpu-throttling --min-instances 1 \
  --add-cloudsql-instances "$INSTANCE_CONNECTION" "${runtime[@]}" --quiet

log "Step 2/4: point ${JOB_NAME} at the revision's exact image"
digest="$(gcloud run revisions describe "$revision" "${common[@]}" \
  --format 'value(status.imageDigest)')"
if [[ "$digest" != *@sha256:* ]]; then
  echo "error: revision ${revision} reports no image digest ('${digest}'); nothing migrated" >&2
  exit 1
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
  echo "error: migrations failed; traffic was NOT moved to ${revision}." >&2
  echo "Read the job's logs with:" >&2
  echo "  gcloud logging read 'resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"${JOB_NAME}\"' --project ${PROJECT_ID} --limit 100" >&2
  exit 1
fi

log "Step 4/4: traffic to ${revision}"
gcloud run services update-traffic "$SERVICE_NAME" "${common[@]}" --to-latest

log "Deployed ${revision} (${digest})"
