"""Running setup_infra.sh and deploy.sh against the fake gcloud and curl, and reading back
what the fakes hold (the project as Google would have it after the run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FAKES = Path(__file__).parent / "fakes"
SECRETS_FILE = REPO / "scripts" / "config" / "secrets.txt"
Call = dict[str, Any]


def _secret_lines() -> list[list[str]]:
    lines = SECRETS_FILE.read_text().splitlines()
    return [line.split() for line in lines if line.strip() and not line.startswith("#")]


SECRETS = [fields[0] for fields in _secret_lines()]
INJECTED = [fields[0] for fields in _secret_lines() if fields[1] == "inject"]


def run(
    script: str,
    tmp: Path,
    *args: str,
    plan: list[dict[str, Any]] | None = None,
    more_env: dict[str, str] | None = None,
    **env: str,
) -> tuple[subprocess.CompletedProcess[str], list[Call]]:
    """Run a script with the fakes first on PATH; the fakes' state lives in `tmp`."""
    argv = ["bash", str(REPO / "scripts" / script), *args]
    return run_argv(argv, tmp, plan=plan, more_env=more_env, **env)


def run_argv(
    argv: list[str],
    tmp: Path,
    *,
    plan: list[dict[str, Any]] | None = None,
    more_env: dict[str, str] | None = None,
    **env: str,
) -> tuple[subprocess.CompletedProcess[str], list[Call]]:
    """Run a command from the repository root with the fakes first on PATH."""
    log = tmp / "calls.jsonl"
    log.unlink(missing_ok=True)
    (tmp / "state.json.calls").unlink(missing_ok=True)
    plan_file = tmp / "plan.json"
    plan_file.write_text(json.dumps(plan or []))
    # The fakes are Python: this interpreter's directory first keeps each call quick.
    path = f"{FAKES}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    full_env = {
        "PATH": path,
        "HOME": str(tmp),
        "FAKE_GCLOUD_LOG": str(log),
        "FAKE_GCLOUD_PLAN": str(plan_file),
        "FAKE_GCLOUD_STATE": str(tmp / "state.json"),
        "REVISION_SUFFIX": "abc12345-20261126",
        **(more_env or {}),
        **env,
    }
    result = subprocess.run(
        argv,
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def gcloud(calls: list[Call], *words: str) -> list[list[str]]:
    """The argv of every gcloud call that starts with these words."""
    found = []
    for call in calls:
        argv = call["argv"]
        if call["tool"] == "gcloud" and argv[: len(words)] == list(words):
            found.append(argv)
    return found


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def _load(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.exists() else default


@dataclass
class Project:
    """What the fakes hold after a run: resources, secret versions, IAM, Cloud Run."""

    resources: set[str]
    secrets: dict[str, list[str]]
    bindings: set[tuple[str, str, str]]
    db_users: dict[str, str]
    pending_sql_operations: list[str]
    run: dict[str, Any]

    @classmethod
    def read(cls, tmp: Path) -> Project:
        state = tmp / "state.json"
        return cls(
            resources=set(_load(state, [])),
            secrets=_load(Path(f"{state}.secrets.json"), {}),
            bindings={(b[0], b[1], b[2]) for b in _load(Path(f"{state}.iam.json"), [])},
            db_users=_load(Path(f"{state}.users.json"), {}),
            pending_sql_operations=_load(Path(f"{state}.sqlops.json"), []),
            run=_load(Path(f"{state}.run.json"), {"services": {}, "jobs": {}}),
        )

    def traffic(self, service: str = "kura-backend") -> dict[str, int]:
        entries = self.run["services"][service]["traffic"]
        return {e["revisionName"]: e["percent"] for e in entries if e["percent"]}

    def executions(self, job: str = "kura-migrator") -> list[dict[str, Any]]:
        return list(self.run["jobs"].get(job, {}).get("executions", []))

    def digest_of(self, revision: str, service: str = "kura-backend") -> str:
        revisions = self.run["services"][service]["revisions"]
        return str(next(r["digest"] for r in revisions if r["name"] == revision))


def copy_state(source: Path, target: Path) -> None:
    for path in source.glob("state.json*"):
        shutil.copy(path, target / path.name)
