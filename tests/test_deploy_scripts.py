"""setup_infra.sh and deploy.sh against a fake `gcloud` (and `curl`) first on PATH."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FAKES = Path(__file__).parent / "fakes"
SECRETS = [
    line.split()[0]
    for line in (REPO / "scripts" / "config" / "secrets.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
INJECTED = [
    line.split()[0]
    for line in (REPO / "scripts" / "config" / "secrets.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#") and line.split()[1] == "inject"
]
DIGEST = (
    "europe-southwest1-docker.pkg.dev/kura-os/cloud-run-source-deploy/kura-backend@sha256:"
    + "ab" * 32
)


def run(
    script: str, tmp: Path, plan: list[dict[str, Any]] | None = None, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    log = tmp / "calls.jsonl"
    log.unlink(missing_ok=True)
    plan_file = tmp / "plan.json"
    plan_file.write_text(json.dumps(plan or []))
    full_env = {
        "PATH": f"{FAKES}:{os.environ['PATH']}",
        "HOME": str(tmp),
        "FAKE_GCLOUD_LOG": str(log),
        "FAKE_GCLOUD_PLAN": str(plan_file),
        "FAKE_GCLOUD_STATE": str(tmp / "state.json"),
        "REVISION_SUFFIX": "abc12345-20261126",
        **env,
    }
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / script)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def gcloud(calls: list[dict[str, Any]], *words: str) -> list[list[str]]:
    found = []
    for call in calls:
        argv = call["argv"]
        if call["tool"] == "gcloud" and argv[: len(words)] == list(words):
            found.append(argv)
    return found


REVISION = [{"match": ["run", "revisions", "describe"], "stdout": DIGEST}]


def test_setup_creates_everything_once_without_exposing_a_secret(tmp_path: Path) -> None:
    first, calls = run("setup_infra.sh", tmp_path)
    assert first.returncode == 0, first.stderr
    created = {" ".join(a[:3]) for a in gcloud(calls, "sql", "instances", "create")}
    assert created == {"sql instances create"}
    instance = gcloud(calls, "sql", "instances", "create")[0]
    for flag in (
        "POSTGRES_15",
        "db-f1-micro",
        "SSD",
        "10GB",
        "03:00",
        "--enable-point-in-time-recovery",
        "europe-southwest1",
    ):
        assert flag in instance
    assert gcloud(calls, "artifacts", "repositories", "create")[0][3] == "cloud-run-source-deploy"
    made = {a[2] for a in gcloud(calls, "secrets", "create")}
    assert made == set(SECRETS)
    stored = {c["argv"][2]: c["stdin"] for c in calls if c["argv"][:2] == ["secrets", "create"]}
    assert stored["STRIPE_SECRET_KEY"] == "PLACEHOLDER_SET_ME"
    password = stored["DB_PASSWORD"]
    assert len(password) >= 32
    assert stored["DATABASE_URL"] == (
        f"postgresql+asyncpg://kura_app:{password}@/kuraosbd"
        "?host=/cloudsql/kura-os:europe-southwest1:kura-primary"
    )
    every_argv = json.dumps([c["argv"] for c in calls])
    for value in (password, stored["SECRET_KEY"], "ya29.fake-access-token"):
        assert value not in every_argv  # only ever on stdin
    curl = [c for c in calls if c["tool"] == "curl"]
    assert len(curl) == 1 and password in curl[0]["stdin"]
    assert first.stdout.count(password) == 0 and first.stderr.count(password) == 0

    second, again = run("setup_infra.sh", tmp_path)
    assert second.returncode == 0, second.stderr
    assert not [c for c in again if "create" in c["argv"]]  # nothing new, nothing rotated
    [reset] = [c for c in again if c["tool"] == "curl"]  # the user converges on the secret
    assert reset["argv"][reset["argv"].index("--request") + 1] == "PUT"
    assert json.loads(reset["stdin"]) == {"name": "kura_app", "password": password}
    assert "never rotated" in second.stdout


def test_setup_interrupted_at_the_database_user_converges_on_rerun(tmp_path: Path) -> None:
    """The password was stored, then creating the user failed: the rerun creates the user
    with that same password, and DATABASE_URL holds it."""
    first, calls = run("setup_infra.sh", tmp_path, FAKE_CURL_FAIL="1")
    assert first.returncode != 0
    assert "The requested URL returned error: 500" in first.stderr
    stored = {c["argv"][2]: c["stdin"] for c in calls if c["argv"][:2] == ["secrets", "create"]}
    assert "DATABASE_URL" not in stored  # stopped at the user step
    second, again = run("setup_infra.sh", tmp_path)
    assert second.returncode == 0, second.stderr
    [create_user] = [c for c in again if c["tool"] == "curl"]
    assert create_user["argv"][create_user["argv"].index("--request") + 1] == "POST"
    assert json.loads(create_user["stdin"])["password"] == stored["DB_PASSWORD"]
    url = next(c["stdin"] for c in again if c["argv"][:3] == ["secrets", "create", "DATABASE_URL"])
    assert f":{stored['DB_PASSWORD']}@" in url


def test_cloud_sql_refusing_the_caller_stops_setup_with_its_message(tmp_path: Path) -> None:
    """Cloud SQL answers a caller without access "There was no instance found … or you are not
    authorized" (its 403): taken as missing, the create then fails with HTTPError 403."""
    result, calls = run("setup_infra.sh", tmp_path, FAKE_GCLOUD_DENY="sql instances")
    assert result.returncode != 0
    assert "HTTPError 403: The client is not authorized to make this request." in result.stderr
    assert not [c for c in calls if c["argv"][:2] == ["secrets", "create"]]


def test_deploy_to_an_existing_service_is_the_four_steps_in_order(tmp_path: Path) -> None:
    result, calls = run(
        "deploy.sh",
        tmp_path,
        [
            *REVISION,
            {"match": ["run", "services", "describe"]},
            {"match": ["run", "jobs", "describe"]},
        ],
    )
    assert result.returncode == 0, result.stderr
    steps = [
        c["argv"][:3] for c in calls if c["argv"][0] == "run" and c["argv"][2] not in ("describe",)
    ]
    assert steps == [
        ["run", "deploy", "kura-backend"],
        ["run", "jobs", "update"],
        ["run", "jobs", "execute"],
        ["run", "services", "update-traffic"],
    ]
    deploy = gcloud(calls, "run", "deploy")[0]
    assert "--no-traffic" in deploy and "--no-cpu-throttling" in deploy
    secrets_flag = deploy[deploy.index("--set-secrets") + 1]
    assert secrets_flag.split(",") == [f"{n}={n}:latest" for n in INJECTED]
    job = gcloud(calls, "run", "jobs", "update")[0]
    assert job[job.index("--image") + 1] == DIGEST
    assert job[job.index("--max-retries") + 1] == "0"
    assert job[job.index("--args") + 1] == "migrate"
    assert "--wait" in gcloud(calls, "run", "jobs", "execute")[0]
    assert gcloud(calls, "run", "services", "update-traffic")[0][-1] == "--to-latest"
    regions = {a for c in calls for a in c["argv"] if a.startswith("europe-") and "/" not in a}
    assert regions == {"europe-southwest1"}  # one region for everything


def test_first_deploy_has_traffic_and_creates_the_job(tmp_path: Path) -> None:
    result, calls = run("deploy.sh", tmp_path, REVISION)
    assert result.returncode == 0, result.stderr
    assert "--no-traffic" not in gcloud(calls, "run", "deploy")[0]
    assert gcloud(calls, "run", "jobs", "create") and not gcloud(calls, "run", "jobs", "update")


def test_the_fake_speaks_gclouds_words_for_a_missing_service(tmp_path: Path) -> None:
    """gcloud 578's `run services describe` for a service that does not exist (from
    lib/surface/run/services/describe.py): no "not found" anywhere in it."""
    state = tmp_path / "state.json"
    done = subprocess.run(
        [str(FAKES / "gcloud"), "run", "services", "describe", "kura-backend", "--region", "r"],
        env={**os.environ, "FAKE_GCLOUD_LOG": str(tmp_path / "l"), "FAKE_GCLOUD_STATE": str(state)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert (
        done.stderr == "ERROR: (gcloud.run.services.describe) Cannot find service [kura-backend]\n"
    )


def test_a_permission_error_is_an_error_not_a_first_deploy(tmp_path: Path) -> None:
    result, calls = run("deploy.sh", tmp_path, FAKE_GCLOUD_DENY="run services describe")
    assert result.returncode != 0
    assert "permission denied" in result.stderr
    assert "PERMISSION_DENIED: Permission 'run.services.get' denied on resource" in result.stderr
    assert not gcloud(calls, "run", "deploy")


def test_a_disabled_api_is_an_error_not_a_first_deploy(tmp_path: Path) -> None:
    result, calls = run("deploy.sh", tmp_path, FAKE_GCLOUD_DISABLED="run")
    assert result.returncode != 0
    assert "the API is not enabled" in result.stderr and "SERVICE_DISABLED" in result.stderr
    assert not gcloud(calls, "run", "deploy")


def test_failed_migrations_leave_traffic_alone(tmp_path: Path) -> None:
    result, calls = run(
        "deploy.sh",
        tmp_path,
        [
            *REVISION,
            {"match": ["run", "services", "describe"]},
            {"match": ["run", "jobs", "describe"]},
            {"match": ["run", "jobs", "execute"], "exit": 1, "stderr": "ERROR: execution failed"},
        ],
    )
    assert result.returncode != 0
    assert not gcloud(calls, "run", "services", "update-traffic")
    assert "traffic was NOT moved" in result.stderr and "gcloud logging read" in result.stderr


def test_no_digest_no_migration(tmp_path: Path) -> None:
    result, calls = run(
        "deploy.sh",
        tmp_path,
        [
            {"match": ["run", "services", "describe"]},
            {"match": ["run", "revisions", "describe"], "stdout": ""},
        ],
    )
    assert result.returncode != 0
    assert not gcloud(calls, "run", "jobs", "update") and not gcloud(
        calls, "run", "jobs", "execute"
    )


def test_a_failing_job_update_is_not_swallowed(tmp_path: Path) -> None:
    result, calls = run(
        "deploy.sh",
        tmp_path,
        [
            *REVISION,
            {"match": ["run", "services", "describe"]},
            {"match": ["run", "jobs", "describe"]},
            {"match": ["run", "jobs", "update"], "exit": 1, "stderr": "ERROR: invalid image"},
        ],
    )
    assert result.returncode != 0
    assert not gcloud(calls, "run", "jobs", "create") and not gcloud(
        calls, "run", "jobs", "execute"
    )


def test_scripts_pass_shellcheck() -> None:
    scripts = [
        *map(str, (REPO / "scripts").glob("*.sh")),
        str(REPO / "scripts" / "config" / "common.sh"),
    ]
    shellcheck = Path(__import__("sys").executable).parent / "shellcheck"
    result = subprocess.run(
        [str(shellcheck), "-x", *scripts], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stdout
