"""deploy.sh against the fake gcloud, on a project setup_infra.sh provisioned: the first
deploy, the next one, every failure (build, quota, permissions, migration) and rollbacks, each
checked on what the project serves afterwards, not only on the calls made."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy_support import (
    FAKES,
    INJECTED,
    REPO,
    Call,
    Project,
    copy_state,
    flag,
    gcloud,
    run,
    run_argv,
)

FIRST = "kura-backend-abc12345-1"
SECOND = "kura-backend-def67890-2"
THIRD = "kura-backend-0a1b2c3d-3"


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One setup_infra.sh run; each test starts from a copy of the project it left."""
    project = tmp_path_factory.mktemp("provisioned")
    result, _ = run("setup_infra.sh", project)
    assert result.returncode == 0, result.stderr
    return project


@pytest.fixture
def project(provisioned: Path, tmp_path: Path) -> Path:
    copy_state(provisioned, tmp_path)
    return tmp_path


def deploy(
    tmp: Path,
    suffix: str,
    *args: str,
    plan: list[dict[str, Any]] | None = None,
    more_env: dict[str, str] | None = None,
    **env: str,
) -> tuple[subprocess.CompletedProcess[str], list[Call]]:
    return run("deploy.sh", tmp, *args, plan=plan, more_env=more_env, REVISION_SUFFIX=suffix, **env)


def test_first_deploy_on_an_empty_project_serves_the_migrated_revision(project: Path) -> None:
    result, calls = deploy(project, "abc12345-1")
    assert result.returncode == 0, result.stderr
    state = Project.read(project)
    assert state.traffic() == {FIRST: 100}
    [execution] = state.executions()
    assert execution == {
        "name": "kura-migrator-00001",
        "image": state.digest_of(FIRST),
        "succeeded": True,
    }
    [first] = gcloud(calls, "run", "deploy")
    assert "--no-traffic" not in first  # gcloud refuses it on a new service
    assert gcloud(calls, "run", "jobs", "create") and not gcloud(calls, "run", "jobs", "update")
    [move] = gcloud(calls, "run", "services", "update-traffic")
    assert flag(move, "--to-revisions") == f"{FIRST}=100" and "--to-latest" not in move
    regions = {a for c in calls for a in c["argv"] if a.startswith("europe-") and "/" not in a}
    assert regions == {"europe-southwest1"}  # one region for everything


def test_every_secret_is_pinned_to_the_version_current_at_deploy(project: Path) -> None:
    assert deploy(project, "abc12345-1")[0].returncode == 0
    # SECRET_KEY gets a new version between the two deploys
    added, _ = run("setup_infra.sh", project)  # (harmless rerun: nothing is rotated)
    assert added.returncode == 0
    gcloud_add = subprocess.run(
        [str(FAKES / "gcloud"), "secrets", "versions", "add", "SECRET_KEY", "--data-file=-"],
        input="rotated-secret-key-value-of-enough-length-1234",
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "FAKE_GCLOUD_LOG": str(project / "side.jsonl"),
            "FAKE_GCLOUD_STATE": str(project / "state.json"),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert gcloud_add.returncode == 0, gcloud_add.stderr
    result, calls = deploy(project, "def67890-2")
    assert result.returncode == 0, result.stderr
    revisions = {
        r["name"]: r for r in Project.read(project).run["services"]["kura-backend"]["revisions"]
    }
    first = dict(pair.split("=") for pair in revisions[FIRST]["secrets"].split(","))
    second = dict(pair.split("=") for pair in revisions[SECOND]["secrets"].split(","))
    assert first == {name: f"{name}:1" for name in INJECTED}
    assert second == {**first, "SECRET_KEY": "SECRET_KEY:2"}
    [job] = gcloud(calls, "run", "jobs", "update")  # the job reads what its revision reads
    assert flag(job, "--set-secrets") == revisions[SECOND]["secrets"]
    assert not any(":latest" in a for c in calls for a in c["argv"])


def test_a_second_deploy_is_staged_migrated_then_moved(project: Path) -> None:
    assert deploy(project, "abc12345-1")[0].returncode == 0
    result, calls = deploy(project, "def67890-2")
    assert result.returncode == 0, result.stderr
    steps = [
        c["argv"][:3] for c in calls if c["argv"][:1] == ["run"] and "describe" not in c["argv"]
    ]
    assert steps == [
        ["run", "deploy", "kura-backend"],
        ["run", "jobs", "update"],
        ["run", "jobs", "execute"],
        ["run", "services", "update-traffic"],
    ]
    [staged] = gcloud(calls, "run", "deploy")
    assert "--no-traffic" in staged and "--no-cpu-throttling" in staged
    assert flag(staged, "--update-labels") == f"kura_previous={FIRST}"
    state = Project.read(project)
    assert state.traffic() == {SECOND: 100}
    assert [e["image"] for e in state.executions()] == [
        state.digest_of(FIRST),
        state.digest_of(SECOND),
    ]
    assert "--rollback" in result.stdout and FIRST in result.stdout


def test_the_connection_budget_and_pools_reach_the_revision(project: Path) -> None:
    assert deploy(project, "abc12345-1")[0].returncode == 0
    [revision] = Project.read(project).run["services"]["kura-backend"]["revisions"]
    env = revision["env"]
    assert (env["DB_POOL_SIZE"], env["DB_MAX_OVERFLOW"], env["JOB_POOL_SIZE"]) == ("3", "2", "3")
    assert revision["max_instances"] == "1"
    # 2 revisions x 1 instance x (3 + 2 + 3 + 2) + 2 = 22 <= 25 - 3
    too_many, calls = deploy(project, "def67890-2", MAX_INSTANCES="2")
    assert too_many.returncode != 0
    assert "42 database connections needed" in too_many.stderr
    assert "db-f1-micro allows 22" in too_many.stderr
    assert calls == []  # refused before touching the project


def test_a_failed_migration_leaves_traffic_on_the_old_revision(project: Path) -> None:
    assert deploy(project, "abc12345-1")[0].returncode == 0
    result, calls = deploy(project, "def67890-2", FAKE_GCLOUD_JOB_FAIL="1")
    assert result.returncode != 0
    assert f"traffic was NOT moved to {SECOND} (still on {FIRST})" in result.stderr
    assert "gcloud logging read" in result.stderr
    assert not gcloud(calls, "run", "services", "update-traffic")
    state = Project.read(project)
    assert state.traffic() == {FIRST: 100}
    assert state.executions()[-1] == {
        "name": "kura-migrator-00002",
        "image": state.digest_of(SECOND),
        "succeeded": False,
    }


@pytest.mark.parametrize(
    ("failure", "gclouds_words"),
    [
        ("FAKE_GCLOUD_BUILD_FAIL", "ERROR: (gcloud.run.deploy) Build failed; check build logs"),
        ("FAKE_GCLOUD_QUOTA", "Quota exceeded for total allowable CPU per project per region"),
    ],
)
def test_a_failed_build_or_quota_migrates_nothing_and_keeps_traffic(
    project: Path, failure: str, gclouds_words: str
) -> None:
    assert deploy(project, "abc12345-1")[0].returncode == 0
    result, calls = deploy(project, "def67890-2", more_env={failure: "1"})
    assert result.returncode != 0
    assert gclouds_words in result.stderr
    assert f"nothing was migrated and traffic is unchanged (still on {FIRST})" in result.stderr
    assert not gcloud(calls, "run", "jobs", "update") and not gcloud(
        calls, "run", "jobs", "execute"
    )
    state = Project.read(project)
    assert state.traffic() == {FIRST: 100} and len(state.executions()) == 1


def test_a_first_deploy_whose_build_fails_says_so(project: Path) -> None:
    result, calls = deploy(project, "abc12345-1", FAKE_GCLOUD_BUILD_FAIL="1")
    assert result.returncode != 0
    assert "Building and deploying new service..." in result.stderr
    assert "the build or deploy of kura-backend-abc12345-1 failed" in result.stderr
    assert not gcloud(calls, "run", "jobs", "create")
    assert Project.read(project).run["services"] == {}


def test_a_build_account_without_run_builder_is_gclouds_permission_error(
    project: Path,
) -> None:
    """Skipping setup's grant: the --source build is refused as gcloud words it."""
    iam = project / "state.json.iam.json"
    bindings = [b for b in json.loads(iam.read_text()) if b[2] != "roles/run.builder"]
    iam.write_text(json.dumps(bindings))
    result, calls = deploy(project, "abc12345-1")
    assert result.returncode != 0
    assert "PERMISSION_DENIED: Build failed because the default service account" in result.stderr
    assert not gcloud(calls, "run", "jobs", "create")


def test_a_permission_error_is_an_error_not_a_first_deploy(project: Path) -> None:
    result, calls = deploy(project, "abc12345-1", FAKE_GCLOUD_DENY="run services describe")
    assert result.returncode != 0
    assert "permission denied" in result.stderr
    assert "PERMISSION_DENIED: Permission 'run.services.get' denied on resource" in result.stderr
    assert not gcloud(calls, "run", "deploy")


def test_a_disabled_api_is_an_error_not_a_first_deploy(project: Path) -> None:
    result, calls = deploy(project, "abc12345-1", FAKE_GCLOUD_DISABLED="run")
    assert result.returncode != 0
    assert "the API is not enabled" in result.stderr and "SERVICE_DISABLED" in result.stderr
    assert not gcloud(calls, "run", "deploy")


def test_a_deploy_before_setup_names_the_missing_secret(tmp_path: Path) -> None:
    result, calls = deploy(tmp_path, "abc12345-1")
    assert result.returncode != 0
    assert "run scripts/setup_infra.sh" in result.stderr
    assert not gcloud(calls, "run", "deploy")


def test_rollback_returns_to_the_revision_that_served_before(project: Path) -> None:
    assert deploy(project, "abc12345-1")[0].returncode == 0
    assert deploy(project, "def67890-2")[0].returncode == 0
    # a third revision is staged, its migration fails: it never served
    assert deploy(project, "0a1b2c3d-3", FAKE_GCLOUD_JOB_FAIL="1")[0].returncode != 0
    assert Project.read(project).traffic() == {SECOND: 100}

    back, calls = run("deploy.sh", project, "--rollback")
    assert back.returncode == 0, back.stderr
    assert Project.read(project).traffic() == {FIRST: 100}  # not THIRD, which never served
    [move] = gcloud(calls, "run", "services", "update-traffic")
    assert flag(move, "--to-revisions") == f"{FIRST}=100"
    assert "expand/contract" in back.stdout
    assert not gcloud(calls, "run", "deploy") and not gcloud(calls, "run", "jobs", "execute")

    nothing_before, _ = run("deploy.sh", project, "--rollback")
    assert nothing_before.returncode != 0
    assert f"no previous revision is recorded on {FIRST}" in nothing_before.stderr
    assert Project.read(project).traffic() == {FIRST: 100}

    forward, _ = run("deploy.sh", project, "--rollback", SECOND)
    assert forward.returncode == 0, forward.stderr
    assert Project.read(project).traffic() == {SECOND: 100}

    unknown, _ = run("deploy.sh", project, "--rollback", "kura-backend-nope")
    assert unknown.returncode != 0 and "kura-backend-nope does not exist" in unknown.stderr
    assert Project.read(project).traffic() == {SECOND: 100}


def test_rollback_without_a_service_and_bad_arguments(project: Path) -> None:
    missing, _ = run("deploy.sh", project, "--rollback")
    assert missing.returncode != 0 and "nothing to roll back" in missing.stderr
    bad, calls = run("deploy.sh", project, "--frobnicate")
    assert bad.returncode == 2 and "--rollback" in bad.stderr and calls == []


def test_no_digest_no_migration(project: Path) -> None:
    result, calls = deploy(
        project,
        "abc12345-1",
        plan=[{"match": ["run", "revisions", "describe"], "stdout": ""}],
    )
    assert result.returncode != 0 and "reports no image digest" in result.stderr
    assert not gcloud(calls, "run", "jobs", "create") and not gcloud(
        calls, "run", "jobs", "execute"
    )


def test_a_failing_job_update_is_not_swallowed(project: Path) -> None:
    assert deploy(project, "abc12345-1")[0].returncode == 0
    result, calls = deploy(
        project,
        "def67890-2",
        plan=[{"match": ["run", "jobs", "update"], "exit": 1, "stderr": "ERROR: invalid image"}],
    )
    assert result.returncode != 0
    assert not gcloud(calls, "run", "jobs", "execute")
    assert Project.read(project).traffic() == {FIRST: 100}


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


def test_the_proxy_hops_match_the_documented_cloudflare_path() -> None:
    """Cloudflare appends the client's address, Google's front end appends Cloudflare's: the
    client is the 2nd address from the right of X-Forwarded-For."""
    env = (REPO / "scripts" / "config" / "env-vars.yaml").read_text()
    assert 'TRUSTED_PROXY_HOPS: "2"' in env
    assert "Cloudflare in front of Cloud Run: `2`" in (REPO / "README.md").read_text()


def test_scripts_pass_shellcheck() -> None:
    scripts = [
        *map(str, (REPO / "scripts").glob("*.sh")),
        str(REPO / "scripts" / "config" / "common.sh"),
        str(REPO / "kura"),
    ]
    shellcheck = Path(sys.executable).parent / "shellcheck"
    result = subprocess.run(
        [str(shellcheck), "-x", *scripts], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stdout


CLOUDBUILD_SUBSTITUTIONS = {"PROJECT_ID": "kura-os", "SHORT_SHA": "c0ffee12"}


def _cloudbuild() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    return config


def _substitute(text: str, values: dict[str, str]) -> str:
    """Cloud Build's substitution: $NAME / ${NAME} replaced, $$ a literal $."""
    text = text.replace("$$", "\0")
    text = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values[m.group(1) or m.group(2)], text)
    return text.replace("\0", "$")


def test_cloudbuild_builds_pushes_then_runs_the_same_four_steps(project: Path) -> None:
    config = _cloudbuild()
    values = {**CLOUDBUILD_SUBSTITUTIONS, **config["substitutions"]}
    values["_IMAGE"] = _substitute(values["_IMAGE"], values)
    steps = {step["id"]: step for step in config["steps"]}
    assert list(steps) == ["build", "push", "deploy"]
    tag = _substitute(steps["build"]["args"][2], values)
    assert steps["build"]["args"][:2] == ["build", "--tag"]
    assert _substitute(steps["push"]["args"][1], values) == tag
    assert [_substitute(i, values) for i in config["images"]] == [tag]
    assert (
        tag
        == "europe-southwest1-docker.pkg.dev/kura-os/cloud-run-source-deploy/kura-backend:c0ffee12"
    )
    # every $ the deploy step's script means for bash is escaped from Cloud Build
    script = steps["deploy"]["args"][1]
    names = {
        a or b
        for a, b in re.findall(r"(?<!\$)\$\{(\w+)\}|(?<!\$)\$(\w+)", script.replace("$$", ""))
    }
    assert names <= set(values), names - set(values)

    # run the step as Cloud Build would, against the fake gcloud
    env = dict(_substitute(e, values).split("=", 1) for e in steps["deploy"]["env"])
    result, calls = run_argv(
        ["bash", "-c", _substitute(script, values)],
        project,
        more_env=env,
        REVISION_SUFFIX="c0ffee12-1",
    )
    assert result.returncode == 0, result.stderr
    [staged] = gcloud(calls, "run", "deploy")
    assert "--source" not in staged and flag(staged, "--image").startswith(
        tag.rsplit(":", 1)[0] + "@sha256:"
    )
    state = Project.read(project)
    assert state.traffic() == {"kura-backend-c0ffee12-1": 100}
    assert state.executions()[-1]["image"] == flag(staged, "--image")
    [revision] = state.run["services"]["kura-backend"]["revisions"]
    assert revision["env"]["KURA_GIT_SHA"] == "c0ffee12"


def test_gcloudignore_uploads_the_build_context_and_the_scripts() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".gcloudignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (
        "Dockerfile",
        "pyproject.toml",
        "README.md",
        "alembic.ini",
        "src",
        "requirements",
        "scripts",
    ):
        assert needed not in ignored and (REPO / needed).exists(), needed
    assert {".git", ".venv", "tests"} <= ignored
