"""setup_infra.sh against the fake gcloud and curl: what it creates, that no secret reaches an
argv, and that a run interrupted at any step is finished by the next one."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.deploy_support import SECRETS, Call, Project, flag, gcloud, run

RUNTIME = "serviceAccount:kura-run@kura-os.iam.gserviceaccount.com"
DEPLOYER = "serviceAccount:deployer@example.iam.gserviceaccount.com"
BUILDER = "serviceAccount:123456789012-compute@developer.gserviceaccount.com"


def test_setup_creates_everything_once_without_exposing_a_secret(tmp_path: Path) -> None:
    first, calls = run("setup_infra.sh", tmp_path)
    assert first.returncode == 0, first.stderr
    [instance] = gcloud(calls, "sql", "instances", "create")
    for expected in ("POSTGRES_15", "db-f1-micro", "SSD", "10GB", "03:00", "europe-southwest1"):
        assert expected in instance
    assert flag(instance, "--edition") == "enterprise"
    for switch in ("--deletion-protection", "--enable-point-in-time-recovery"):
        assert switch in instance
    assert gcloud(calls, "artifacts", "repositories", "create")[0][3] == "cloud-run-source-deploy"
    project = Project.read(tmp_path)
    assert set(project.secrets) == set(SECRETS)
    assert all(len(versions) == 1 for versions in project.secrets.values())
    assert project.secrets["STRIPE_SECRET_KEY"] == ["PLACEHOLDER_SET_ME"]
    [password] = project.secrets["DB_PASSWORD"]
    assert len(password) >= 32
    assert project.secrets["DATABASE_URL"] == [
        f"postgresql+asyncpg://kura_app:{password}@/kuraosbd"
        "?host=/cloudsql/kura-os:europe-southwest1:kura-primary"
    ]
    assert project.secrets["BACKUP_SIGNING_KEY"] != project.secrets["SECRET_KEY"]
    assert project.db_users == {"kura_app": password}
    every_argv = json.dumps([c["argv"] for c in calls])
    for value in (password, project.secrets["SECRET_KEY"][0], "ya29.fake-access-token"):
        assert value not in every_argv  # only ever on stdin
    assert password not in first.stdout + first.stderr

    second, again = run("setup_infra.sh", tmp_path)
    assert second.returncode == 0, second.stderr
    assert not [c for c in again if "create" in c["argv"]]  # nothing new, nothing rotated
    [reset] = [c for c in again if c["tool"] == "curl"]  # the user converges on the secret
    assert flag(reset["argv"], "--request") == "PUT"
    assert json.loads(reset["stdin"]) == {"name": "kura_app", "password": password}
    assert "never rotated" in second.stdout
    assert Project.read(tmp_path).secrets == project.secrets


def test_setup_grants_what_a_source_deploy_needs(tmp_path: Path) -> None:
    result, _ = run("setup_infra.sh", tmp_path)
    assert result.returncode == 0, result.stderr
    bindings = Project.read(tmp_path).bindings
    project = "projects add-iam-policy-binding kura-os"
    assert (project, BUILDER, "roles/run.builder") in bindings
    for role in (
        "roles/run.sourceDeveloper",
        "roles/run.developer",
        "roles/serviceusage.serviceUsageConsumer",
    ):
        assert (project, DEPLOYER, role) in bindings
    runtime_sa = (
        "iam service-accounts add-iam-policy-binding kura-run@kura-os.iam.gserviceaccount.com"
    )
    assert (runtime_sa, DEPLOYER, "roles/iam.serviceAccountUser") in bindings
    assert (project, RUNTIME, "roles/cloudsql.client") in bindings
    assert (project, RUNTIME, "roles/cloudtrace.agent") in bindings  # TRACING=cloud-trace
    # the runtime account reads only the secrets it is given
    readable = {r.split()[2] for r, m, _ in bindings if m == RUNTIME and r.startswith("secrets")}
    assert "DB_PASSWORD" not in readable and "DATABASE_URL" in readable


def test_an_explicit_deployer_is_granted_instead_of_the_active_account(tmp_path: Path) -> None:
    result, calls = run("setup_infra.sh", tmp_path, DEPLOYER="group:ops@kura.example")
    assert result.returncode == 0, result.stderr
    members = {m for _, m, _ in Project.read(tmp_path).bindings}
    assert "group:ops@kura.example" in members and DEPLOYER not in members
    assert not gcloud(calls, "config", "get-value")


def test_a_cloud_sql_create_that_outlives_gclouds_wait_is_waited_for(tmp_path: Path) -> None:
    """gcloud gives up waiting after its timeout ("… is taking longer than expected", exit 1)
    while the instance is still being created: setup waits for the operation, then goes on."""
    result, calls = run("setup_infra.sh", tmp_path, FAKE_GCLOUD_SQL_SLOW="1")
    assert result.returncode == 0, result.stderr
    assert "is taking longer than expected" in result.stderr
    [wait] = gcloud(calls, "sql", "operations", "wait")
    assert flag(wait, "--timeout") == "unlimited"
    order = [" ".join(c["argv"][:3]) for c in calls]
    assert order.index("sql operations wait") < order.index("sql databases create")
    assert Project.read(tmp_path).pending_sql_operations == []


def test_setup_interrupted_at_the_database_user_converges_on_rerun(tmp_path: Path) -> None:
    """The password was stored, then creating the user failed: the rerun creates the user
    with that same password, and DATABASE_URL holds it."""
    first, _ = run("setup_infra.sh", tmp_path, FAKE_CURL_FAIL="1")
    assert first.returncode != 0
    assert "The requested URL returned error: 500" in first.stderr
    stored = Project.read(tmp_path)
    assert "DATABASE_URL" not in stored.secrets and stored.db_users == {}
    second, again = run("setup_infra.sh", tmp_path)
    assert second.returncode == 0, second.stderr
    [create_user] = [c for c in again if c["tool"] == "curl"]
    assert flag(create_user["argv"], "--request") == "POST"
    project = Project.read(tmp_path)
    [password] = project.secrets["DB_PASSWORD"]
    assert project.db_users == {"kura_app": password} and stored.secrets["DB_PASSWORD"] == [
        password
    ]
    assert f":{password}@" in project.secrets["DATABASE_URL"][0]


def _is_a_step(call: Call) -> bool:
    """A call that changes the project (the points where an interruption matters)."""
    verbs = ("create", "enable", "update", "add-iam-policy-binding", "wait", "add")
    return call["tool"] == "curl" or any(v in call["argv"][:4] for v in verbs)


def _step_kind(call: Call) -> tuple[str, ...]:
    words = [w for w in call["argv"][:3] if not w.startswith("-")]
    special = [w for w in call["argv"][:4] if w in ("DB_PASSWORD", "DATABASE_URL")]
    return (call["tool"], *[w for w in words if w.isalpha() or "-" in w], *special)


def _converged(project: Project, reference: Project) -> None:
    assert project.resources == reference.resources
    assert set(project.secrets) == set(reference.secrets)
    assert all(len(v) == 1 for v in project.secrets.values()), "a secret was rotated"
    assert project.bindings == reference.bindings
    assert project.pending_sql_operations == []
    [password] = project.secrets["DB_PASSWORD"]
    assert project.db_users == {"kura_app": password}
    assert f"kura_app:{password}@" in project.secrets["DATABASE_URL"][0]


@pytest.mark.timeout(400)  # ~30 runs of the script; 120 s was hit on a busy 2-core machine
def test_setup_interrupted_at_any_step_converges_on_rerun(tmp_path: Path) -> None:
    """The connection drops at one call (before the request reached Google, or after Google
    applied it and the answer was lost); the script stops non-zero (or checks and carries on);
    the next run finishes the project exactly as an uninterrupted run would. Every kind of
    step is cut once (each call when KURA_SETUP_INTERRUPTS=all): being cut after step k
    leaves the project as being cut before step k+1, so cutting after every step reaches
    every state a stop can leave."""
    clean = tmp_path / "clean"
    clean.mkdir()
    result, calls = run("setup_infra.sh", clean)
    assert result.returncode == 0, result.stderr
    reference = Project.read(clean)
    every = os.environ.get("KURA_SETUP_INTERRUPTS") == "all"
    points: list[tuple[int, str]] = [(1, "before"), (2, "before")]
    seen: set[tuple[str, ...]] = set()
    for number, call in enumerate(calls, start=1):
        if _is_a_step(call) and (every or _step_kind(call) not in seen):
            seen.add(_step_kind(call))
            points.append((number, "after"))

    def cut_then_rerun(point: tuple[int, str]) -> str | None:
        number, mode = point
        work = tmp_path / f"cut-{number}-{mode}"
        work.mkdir()
        cut, _ = run(
            "setup_infra.sh", work, FAKE_INTERRUPT_AT=str(number), FAKE_INTERRUPT_MODE=mode
        )
        if "gcloud crashed" not in cut.stderr and "curl: (" not in cut.stderr:
            return f"call {number} ({mode}): the cause is not shown: {cut.stderr[-300:]}"
        # exit 0 only where the script checked the outcome itself (a create whose answer was
        # lost, then found done): the project must be complete already
        if cut.returncode != 0:
            rerun, _ = run("setup_infra.sh", work)
            if rerun.returncode != 0:
                return f"call {number} ({mode}): the rerun failed: {rerun.stderr[-300:]}"
        try:
            _converged(Project.read(work), reference)
        except AssertionError as exc:
            return f"call {number} ({mode}): {exc}"
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(cut_then_rerun, points) if p]
    assert len(points) >= 14
    assert not problems, problems


def test_cloud_sql_refusing_the_caller_stops_setup_with_its_message(tmp_path: Path) -> None:
    """Cloud SQL answers a caller without access "There was no instance found … or you are not
    authorized" (its 403): taken as missing, the create then fails with HTTPError 403."""
    result, calls = run("setup_infra.sh", tmp_path, FAKE_GCLOUD_DENY="sql instances")
    assert result.returncode != 0
    assert "HTTPError 403: The client is not authorized to make this request." in result.stderr
    assert not gcloud(calls, "secrets", "create")


def test_a_disabled_api_stops_setup_before_anything_is_created(tmp_path: Path) -> None:
    result, calls = run("setup_infra.sh", tmp_path, FAKE_GCLOUD_DISABLED="artifacts")
    assert result.returncode != 0
    assert "SERVICE_DISABLED" in result.stderr and "the API is not enabled" in result.stderr
    assert not [c for c in calls if "create" in c["argv"]]
