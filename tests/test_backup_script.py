"""scripts/backup_db.sh: the seed's local backup script, run for real; shellcheck clean."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from kura.db.urls import describe
from tests.backup_support import create_from_template, drop

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "backup_db.sh"
BIN = Path(sys.executable).parent


@pytest.fixture
def script_db(db_url: URL, template_db: str) -> Iterator[URL]:
    url = create_from_template(db_url, "kura_bkscript", template_db)
    yield url
    drop(url)


def _run(url: URL, out_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env |= {
        "DATABASE_URL": describe(url, show_password=True),
        "KURA": str(BIN / "kura"),
        "LOCAL_BACKUP_DIR": str(out_dir),
        **extra,
    }
    return subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_writes_a_complete_plain_dump_and_keeps_the_newest_five(
    script_db: URL, tmp_path: Path
) -> None:
    out_dir = tmp_path / "backups"
    out_dir.mkdir()
    for n in range(1, 6):  # five older backups already there
        (out_dir / f"kuraos_2020010{n}_000000.sql").write_text("old")
    result = _run(script_db, out_dir)
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in out_dir.iterdir())
    assert len(files) == 5
    assert "kuraos_20200101_000000.sql" not in files
    newest = out_dir / files[-1]
    assert result.stdout.strip().startswith(str(newest))
    text = newest.read_text()
    assert "CREATE TABLE public.patient" in text
    assert "-- PostgreSQL database dump complete" in text[-300:]
    assert not list(out_dir.glob("*.partial"))


def test_a_failing_dump_keeps_nothing(tmp_path: Path) -> None:
    out_dir = tmp_path / "backups"
    unreachable = URL.create(
        "postgresql+psycopg",
        username="x",
        password="hunter22",
        database="nope",
        query={"host": str(tmp_path)},
    )
    result = _run(unreachable, out_dir)
    assert result.returncode != 0
    assert "hunter22" not in result.stdout + result.stderr
    assert not out_dir.exists() or not list(out_dir.iterdir())


def test_bad_keep_value_is_refused(script_db: URL, tmp_path: Path) -> None:
    result = _run(script_db, tmp_path, KEEP_BACKUPS="zero")
    assert result.returncode == 2
    assert "KEEP_BACKUPS" in result.stderr
