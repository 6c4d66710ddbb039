"""Cloud Run as the fake gcloud sees it: services with revisions and traffic, jobs and their
executions, kept in a JSON file beside the fake's state (FAKE_GCLOUD_STATE + ".run.json").

What it models, each from gcloud's or Cloud Run's documented behaviour:
  - `run deploy` creates a revision SERVICE-SUFFIX; on a new service it takes all traffic, and
    `--no-traffic` is refused (command_lib/run/config_changes.py NoTrafficChange: "--no-traffic
    not supported when creating a new service."); on an existing one `--no-traffic` pins the
    traffic to the revision serving it (ZeroLatestTraffic); `--update-labels` lands on the
    service and the new revision's template;
  - `run revisions describe` / `run services describe` answer `--format json` and
    `--format 'value(a.b,c)'` from the same resource shape as the Run API (metadata, status);
  - `run services update-traffic --to-revisions R=100` / `--to-latest`;
  - `run jobs create|update|execute --wait` with the image each execution ran.
Failures are switched on by the environment: FAKE_GCLOUD_BUILD_FAIL (the Cloud Build step of a
`--source` deploy fails), FAKE_GCLOUD_QUOTA (a deploy refused for quota), FAKE_GCLOUD_JOB_FAIL
(the migration execution fails).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

Args = list[str]
Run = dict[str, Any]
Answer = tuple[str, str, int]

PROJECT_NUMBER = "123456789012"


def _path() -> Path | None:
    state = os.environ.get("FAKE_GCLOUD_STATE")
    return Path(state + ".run.json") if state else None


def load() -> Run:
    path = _path()
    if path and path.exists():
        loaded: Run = json.loads(path.read_text())
        return loaded
    return {"services": {}, "jobs": {}}


def save(run: Run) -> None:
    path = _path()
    if path:
        path.write_text(json.dumps(run, indent=1))


def option(args: Args, name: str, default: str = "") -> str:
    for index, token in enumerate(args):
        if token == name and index + 1 < len(args):
            return args[index + 1]
        if token.startswith(name + "="):
            return token.split("=", 1)[1]
    return default


def labels_of(args: Args) -> dict[str, str]:
    pairs = option(args, "--update-labels") or option(args, "--labels")
    return dict(pair.split("=", 1) for pair in pairs.split(",") if "=" in pair)


def env_of(args: Args) -> dict[str, str]:
    """The --env-vars-file's YAML map (flat KEY: value lines, as gcloud requires)."""
    path = option(args, "--env-vars-file")
    env = {}
    if path and Path(path).exists():
        for line in Path(path).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition(":")
                env[key.strip()] = value.strip().strip('"')
    return env


def field(resource: Any, path: str) -> str:
    """gcloud's value() projection of one dotted key (lists joined by ';')."""
    value = resource
    for key in path.split("."):
        if isinstance(value, list):
            value = [item.get(key, "") for item in value if isinstance(item, dict)]
        elif isinstance(value, dict):
            value = value.get(key, "")
        else:
            return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else str(value)


def formatted(resource: dict[str, Any], args: Args) -> str:
    fmt = option(args, "--format")
    if fmt.startswith("value(") and fmt.endswith(")"):
        return "\t".join(field(resource, p.strip()) for p in fmt[6:-1].split(",")) + "\n"
    return json.dumps(resource, indent=2) + "\n"


def digest_for(args: Args, revision: str) -> str:
    project = option(args, "--project", "kura-os")
    region = option(args, "--region", "europe-southwest1")
    service = args[2]
    sha = hashlib.sha256(revision.encode()).hexdigest()
    return f"{region}-docker.pkg.dev/{project}/cloud-run-source-deploy/{service}@sha256:{sha}"


def service_resource(name: str, service: dict[str, Any]) -> dict[str, Any]:
    latest = service["revisions"][-1]["name"] if service["revisions"] else ""
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": service.get("labels", {})},
        "status": {
            "latestCreatedRevisionName": latest,
            "latestReadyRevisionName": latest,
            "traffic": service["traffic"],
        },
    }


def revision_resource(revision: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {"name": revision["name"], "labels": revision["labels"]},
        "status": {"imageDigest": revision["digest"]},
    }


def deploy(args: Args, run: Run) -> Answer:
    name = args[2]
    service = run["services"].get(name)
    if service is None and "--no-traffic" in args:
        return (
            "",
            "ERROR: (gcloud.run.deploy) --no-traffic not supported when creating a new service.\n",
            1,
        )
    revision = f"{name}-{option(args, '--revision-suffix') or '00001-abc'}"
    if "--source" in args and not builder_granted():
        return "", builder_denied(args), 1
    if os.environ.get("FAKE_GCLOUD_BUILD_FAIL"):
        return "", build_failed(args, service is None), 1
    if os.environ.get("FAKE_GCLOUD_QUOTA"):
        return "", quota_exceeded(args, revision), 1
    if service is None:
        latest = {"latestRevision": True, "percent": 100, "revisionName": revision}
        service = run["services"][name] = {"revisions": [], "traffic": [latest], "labels": {}}
    elif "--no-traffic" in args:
        serving = [e for e in service["traffic"] if e.get("percent")]
        service["traffic"] = [
            {"percent": e["percent"], "revisionName": e["revisionName"]} for e in serving
        ]
    elif any(e.get("latestRevision") for e in service["traffic"]):
        service["traffic"] = [{"latestRevision": True, "percent": 100, "revisionName": revision}]
    labels = {**service.get("labels", {}), **labels_of(args)}
    service["labels"] = labels
    service["revisions"].append(
        {
            "name": revision,
            "labels": labels,
            "digest": option(args, "--image")
            if "@sha256:" in option(args, "--image")
            else digest_for(args, revision),
            "env": env_of(args),
            "secrets": option(args, "--set-secrets"),
            "max_instances": option(args, "--max-instances"),
        }
    )
    save(run)
    region = option(args, "--region", "europe-southwest1")
    url = f"https://{name}-{PROJECT_NUMBER}.{region}.run.app"
    served = "0" if "--no-traffic" in args else "100"
    return (
        "",
        (
            f"Deploying container to Cloud Run service [{name}] in project "
            f"[{option(args, '--project')}] region [{region}]\n"
            f"Service [{name}] revision [{revision}] has been deployed and is serving {served} "
            f"percent of traffic.\nService URL: {url}\n"
        ),
        0,
    )


def build_failed(args: Args, new: bool) -> str:
    """A failed Cloud Build step of a --source deploy, as gcloud prints it (stages from
    command_lib/run/stages.py; the last sentence is the build operation's own error)."""
    build = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    region = option(args, "--region", "europe-southwest1")
    project = option(args, "--project", "kura-os")
    return (
        "Building using Dockerfile and deploying container to Cloud Run service "
        f"[{args[2]}] in project [{project}] region [{region}]\n"
        f"Building and deploying{' new service' if new else ''}...\n"
        "  Validating configuration...done\n"
        "  Uploading sources...done\n"
        "  Building Container... Logs are available at [ https://console.cloud.google.com/"
        f"cloud-build/builds;region={region}/{build}?project={PROJECT_NUMBER} ]....failed\n"
        "Deployment failed\n"
        "ERROR: (gcloud.run.deploy) Build failed; check build logs for details\n"
    )


def builder_denied(args: Args) -> str:
    """The build account without roles/run.builder (real transcript, gcloud 583)."""
    return (
        "  Uploading sources...failed\n"
        "Deployment failed\n"
        "ERROR: (gcloud.run.deploy) PERMISSION_DENIED: Build failed because the default service "
        "account is missing required IAM permissions. Follow the instructions at "
        "https://cloud.google.com/build/docs/cloud-build-service-account-updates#get_the_current_"
        "default_service_account_for_a_project to get the default service account for your "
        "project, and see https://cloud.google.com/run/docs/configuring/services/build-service-"
        "account for more details. could not resolve source: generic::permission_denied: IAM "
        f"permission denied for service account {PROJECT_NUMBER}-compute@developer.gserviceaccount"
        ".com. . This command is authenticated as deployer@example.iam.gserviceaccount.com which "
        "is the active account specified by the [core/account] property.\n"
    )


def quota_exceeded(args: Args, revision: str) -> str:
    """The revision created but unable to start: over the region's CPU quota (the condition
    message Cloud Run reports, as gcloud 528 prints it)."""
    region = option(args, "--region", "europe-southwest1")
    project = option(args, "--project", "kura-os")
    return (
        f"Deploying container to Cloud Run service [{args[2]}] in project [{project}] region "
        f"[{region}]\nDeploying...\nCreating Revision.....failed\nDeployment failed\n"
        f"ERROR: (gcloud.run.deploy) Revision '{revision}' is not ready and cannot serve "
        "traffic. Quota exceeded for total allowable CPU per project per region.\n"
    )


def builder_granted() -> bool:
    """Whether setup granted roles/run.builder to the build account (only known when the
    fake's IAM state exists, i.e. setup_infra.sh ran against this fake)."""
    path = Path(os.environ["FAKE_GCLOUD_STATE"] + ".iam.json")
    if not path.exists():
        return True
    member = f"serviceAccount:{PROJECT_NUMBER}-compute@developer.gserviceaccount.com"
    bindings = json.loads(path.read_text())
    return any(m == member and role == "roles/run.builder" for _, m, role in bindings)


def find_revision(run: Run, name: str) -> dict[str, Any] | None:
    for service in run["services"].values():
        for revision in service["revisions"]:
            if revision["name"] == name:
                found: dict[str, Any] = revision
                return found
    return None


def update_traffic(args: Args, run: Run) -> Answer:
    name = args[3]
    service = run["services"].get(name)
    if service is None:
        return "", f"ERROR: (gcloud.run.services.update-traffic) Cannot find service [{name}]\n", 1
    if "--to-latest" in args:
        latest = service["revisions"][-1]["name"]
        service["traffic"] = [{"latestRevision": True, "percent": 100, "revisionName": latest}]
    else:
        targets = option(args, "--to-revisions")
        traffic: list[dict[str, Any]] = []
        for pair in targets.split(","):
            revision, _, percent = pair.partition("=")
            if find_revision(run, revision) is None:
                return (
                    "",
                    (
                        "ERROR: (gcloud.run.services.update-traffic) The following revisions were "
                        f"not found: {revision}. Check the spelling or run `gcloud run revisions "
                        "list` to see all revisions.\n"
                    ),
                    1,
                )
            traffic.append({"percent": int(percent), "revisionName": revision})
        service["traffic"] = traffic
    save(run)
    lines = "".join(f"  {e['percent']}% {e['revisionName']}\n" for e in service["traffic"])
    return "", f"Updating traffic...done.\nTraffic:\n{lines}", 0


def job(args: Args, run: Run) -> Answer:
    verb, name = args[2], args[3]
    jobs = run["jobs"]
    if verb == "create":
        if name in jobs:
            return "", (f"ERROR: (gcloud.run.jobs.create) Job [{name}] already exists.\n"), 1
        jobs[name] = {"image": option(args, "--image"), "executions": []}
    elif verb == "update":
        if name not in jobs:
            return "", f"ERROR: (gcloud.run.jobs.update) Cannot find job [{name}].\n", 1
        jobs[name]["image"] = option(args, "--image")
    elif verb == "describe":
        if name not in jobs:
            return "", f"ERROR: (gcloud.run.jobs.describe) Cannot find job [{name}].\n", 1
        return json.dumps({"metadata": {"name": name}}) + "\n", "", 0
    elif verb == "execute":
        if name not in jobs:
            region = option(args, "--region", "europe-southwest1")
            project = option(args, "--project", "kura-os")
            return (
                "",
                (
                    f"ERROR: (gcloud.run.jobs.execute) NOT_FOUND: Resource '{name}' of kind 'JOB' "
                    f"in region '{region}' in project '{project}' does not exist.\n"
                ),
                1,
            )
        failed = bool(os.environ.get("FAKE_GCLOUD_JOB_FAIL"))
        execution = f"{name}-{len(jobs[name]['executions']) + 1:05d}"
        jobs[name]["executions"].append(
            {"name": execution, "image": jobs[name]["image"], "succeeded": not failed}
        )
        save(run)
        if failed:
            return (
                "",
                (
                    f"Creating execution...done\nWaiting for execution to complete...failed\n"
                    f"ERROR: (gcloud.run.jobs.execute) The execution failed.\n"
                    f"View details about this execution by running:\n"
                    f"gcloud run jobs executions describe {execution}\n"
                ),
                1,
            )
        return "", f"Execution [{execution}] has successfully completed.\n", 0
    save(run)
    return "", "", 0


def handle(args: Args) -> Answer | None:
    """(stdout, stderr, exit) for a Cloud Run command this model knows, else None."""
    if not args or args[0] != "run":
        return None
    run = load()
    if args[1] == "deploy":
        return deploy(args, run)
    if args[1:3] == ["services", "describe"]:
        service = run["services"].get(args[3])
        if service is None:
            return "", f"ERROR: (gcloud.run.services.describe) Cannot find service [{args[3]}]\n", 1
        return formatted(service_resource(args[3], service), args), "", 0
    if args[1:3] == ["services", "update-traffic"]:
        return update_traffic(args, run)
    if args[1:3] == ["revisions", "describe"]:
        revision = find_revision(run, args[3])
        if revision is None:
            return (
                "",
                f"ERROR: (gcloud.run.revisions.describe) Cannot find revision [{args[3]}]\n",
                1,
            )
        return formatted(revision_resource(revision), args), "", 0
    if args[1] == "jobs":
        return job(args, run)
    return None
