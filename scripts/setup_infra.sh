#!/usr/bin/env bash
# One-time (and safely re-runnable) provisioning of KURA OS on Google Cloud: APIs, the image
# registry, Cloud SQL (PostgreSQL 15) with its database and user, the secrets, the private
# bucket for backups and briefing audio, and the service account with only what it needs.
#
# Idempotent and convergent: what exists is left alone, and a run interrupted at any step is
# finished by the next one; an existing database password is never rotated.
# No secret value is printed or placed on a command line (values travel on stdin).
set -euo pipefail

# shellcheck source=config/common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/config/common.sh"
PLACEHOLDER="PLACEHOLDER_SET_ME"

log() { printf '==> %s\n' "$*"; }

generate_secret() {
  python3 -c 'import secrets; print(secrets.token_urlsafe(36), end="")'
}

secret_exists() {
  resource_exists gcloud secrets describe "$1" --project "$PROJECT_ID"
}

# create_secret NAME < value
create_secret() {
  gcloud secrets create "$1" --project "$PROJECT_ID" --replication-policy automatic \
    --data-file=- >/dev/null
}

# Waits for every unfinished operation on the instance; fails when the create itself failed.
wait_for_sql_operations() {
  local operation
  for operation in $(gcloud sql operations list --instance "$INSTANCE_NAME" \
      --project "$PROJECT_ID" --filter 'status!=DONE' --format 'value(name)'); do
    log "  waiting for Cloud SQL operation ${operation}"
    gcloud sql operations wait "$operation" --project "$PROJECT_ID" --timeout unlimited
  done
  resource_exists gcloud sql instances describe "$INSTANCE_NAME" --project "$PROJECT_ID"
}

log "Project ${PROJECT_ID}, region ${REGION}"

log "Enabling APIs"
gcloud services enable run.googleapis.com sqladmin.googleapis.com secretmanager.googleapis.com \
  artifactregistry.googleapis.com cloudbuild.googleapis.com storage.googleapis.com \
  cloudtrace.googleapis.com --project "$PROJECT_ID"

log "Artifact Registry ${REPOSITORY}"
if ! resource_exists gcloud artifacts repositories describe "$REPOSITORY" \
    --location "$REGION" --project "$PROJECT_ID"; then
  gcloud artifacts repositories create "$REPOSITORY" --repository-format docker \
    --location "$REGION" --project "$PROJECT_ID" \
    --description "KURA OS images (also used by gcloud run deploy --source)"
fi

log "Cloud SQL instance ${INSTANCE_NAME} (PostgreSQL 15, ${DB_TIER})"
# Enterprise edition explicitly (shared-core tiers exist only there; gcloud's default edition
# depends on the version), deletion protection on (a deleted instance takes its backups).
if ! resource_exists gcloud sql instances describe "$INSTANCE_NAME" --project "$PROJECT_ID"; then
  gcloud sql instances create "$INSTANCE_NAME" --project "$PROJECT_ID" --region "$REGION" \
    --database-version POSTGRES_15 --edition enterprise --tier "$DB_TIER" \
    --storage-type SSD --storage-size 10GB --storage-auto-increase \
    --backup-start-time 03:00 --enable-point-in-time-recovery --deletion-protection ||
    wait_for_sql_operations
fi
# A create that outlived gcloud's wait (or a run interrupted during it) leaves an operation
# running: the next steps need a RUNNABLE instance.
wait_for_sql_operations

log "Database ${DB_NAME}"
if ! resource_exists gcloud sql databases describe "$DB_NAME" --instance "$INSTANCE_NAME" \
    --project "$PROJECT_ID"; then
  gcloud sql databases create "$DB_NAME" --instance "$INSTANCE_NAME" --project "$PROJECT_ID"
fi

log "Database user ${DB_USER} and its password"
# Converges on every run: the user is created, or its password set, from the stored secret —
# so a run interrupted between storing DB_PASSWORD and creating the user is finished by the
# next one (the password itself is generated once and never rotated by this script).
if secret_exists DB_PASSWORD; then
  log "DB_PASSWORD exists: the password is kept (never rotated by this script); ${DB_USER} is set to it"
  db_password="$(gcloud secrets versions access latest --secret DB_PASSWORD --project "$PROJECT_ID")"
else
  db_password="$(generate_secret)"
  printf '%s' "$db_password" | create_secret DB_PASSWORD
fi
# The Cloud SQL Admin API call carries the password in its body, read from stdin, and the
# access token in a header read from a file descriptor: neither appears in any argv.
token="$(gcloud auth print-access-token)"
if resource_exists gcloud sql users describe "$DB_USER" --instance "$INSTANCE_NAME" \
    --project "$PROJECT_ID"; then
  method=PUT
  url="https://sqladmin.googleapis.com/v1/projects/${PROJECT_ID}/instances/${INSTANCE_NAME}/users?name=${DB_USER}"
else
  method=POST
  url="https://sqladmin.googleapis.com/v1/projects/${PROJECT_ID}/instances/${INSTANCE_NAME}/users"
fi
printf '{"name": "%s", "password": "%s"}' "$DB_USER" "$db_password" |
  curl --fail --silent --show-error --request "$method" \
    --header @<(printf 'Authorization: Bearer %s\nContent-Type: application/json\n' "$token") \
    --data-binary @- "$url" >/dev/null
unset token

log "Secrets"
for name in SECRET_KEY BACKUP_SIGNING_KEY; do
  if ! secret_exists "$name"; then
    generate_secret | create_secret "$name"
  fi
done
if ! secret_exists DATABASE_URL; then
  printf 'postgresql+asyncpg://%s:%s@/%s?host=/cloudsql/%s' \
    "$DB_USER" "$db_password" "$DB_NAME" "$INSTANCE_CONNECTION" | create_secret DATABASE_URL
fi
unset db_password
for name in $(all_secrets); do
  if ! secret_exists "$name"; then
    log "  ${name}: placeholder (set it: printf '%s' VALUE | gcloud secrets versions add ${name} --data-file=-)"
    printf '%s' "$PLACEHOLDER" | create_secret "$name"
  fi
done

log "Bucket gs://${BUCKET} (private: backups and briefing audio)"
if ! resource_exists gcloud storage buckets describe "gs://${BUCKET}" --project "$PROJECT_ID"; then
  gcloud storage buckets create "gs://${BUCKET}" --project "$PROJECT_ID" --location "$REGION" \
    --uniform-bucket-level-access --public-access-prevention
fi
gcloud storage buckets update "gs://${BUCKET}" --project "$PROJECT_ID" \
  --lifecycle-file "${CONFIG_DIR}/gcs-lifecycle.json"

log "Service account ${SERVICE_ACCOUNT}"
if ! resource_exists gcloud iam service-accounts describe "$SERVICE_ACCOUNT" \
    --project "$PROJECT_ID"; then
  gcloud iam service-accounts create "$SERVICE_ACCOUNT_NAME" --project "$PROJECT_ID" \
    --display-name "KURA OS (Cloud Run service and migration job)"
fi
member="serviceAccount:${SERVICE_ACCOUNT}"
gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "$member" \
  --role roles/cloudsql.client --condition None >/dev/null
# Writes spans when TRACING=cloud-trace (granted always: turning tracing on is then a setting).
gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "$member" \
  --role roles/cloudtrace.agent --condition None >/dev/null
for name in $(injected_secrets); do
  gcloud secrets add-iam-policy-binding "$name" --project "$PROJECT_ID" --member "$member" \
    --role roles/secretmanager.secretAccessor >/dev/null
done
gcloud storage buckets add-iam-policy-binding "gs://${BUCKET}" --member "$member" \
  --role roles/storage.objectAdmin >/dev/null

# `gcloud run deploy --source` builds the image with Cloud Build, as the Compute Engine
# default service account (projects created since 2024 no longer give it Editor): it needs
# roles/run.builder. The deploying identity needs to deploy from source, run the migration
# job, use the runtime service account, and consume the project's APIs.
log "Permissions for source deploys"
project_number="$(gcloud projects describe "$PROJECT_ID" --format 'value(projectNumber)')"
build_account="${BUILD_SERVICE_ACCOUNT:-${project_number}-compute@developer.gserviceaccount.com}"
gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "serviceAccount:${build_account}" \
  --role roles/run.builder --condition None >/dev/null
deployer="${DEPLOYER:-}"
if [[ -z "$deployer" ]]; then
  account="$(gcloud config get-value account)"
  [[ -n "$account" ]] || { echo "error: no active gcloud account: set DEPLOYER=user:EMAIL" >&2; exit 1; }
  if [[ "$account" == *.gserviceaccount.com ]]; then
    deployer="serviceAccount:${account}"
  else
    deployer="user:${account}"
  fi
fi
log "  deployer ${deployer}, build account ${build_account}"
for role in roles/run.sourceDeveloper roles/run.developer roles/serviceusage.serviceUsageConsumer; do
  gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "$deployer" --role "$role" \
    --condition None >/dev/null
done
gcloud iam service-accounts add-iam-policy-binding "$SERVICE_ACCOUNT" --project "$PROJECT_ID" \
  --member "$deployer" --role roles/iam.serviceAccountUser >/dev/null

log "Done. Next: set the placeholder secrets, then ./scripts/deploy.sh"
