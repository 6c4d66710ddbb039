"""`kura backup …` as an operator runs it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from kura.db.urls import describe, libpq_conninfo
from tests.backup_support import create_from_template, drop


@pytest.fixture
def cli_db(db_url: URL, template_db: str) -> Iterator[URL]:
    url = create_from_template(db_url, "kura_bkcli", template_db)
    yield url
    drop(url)


def kura(url: URL, data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env |= {
        "DATABASE_URL": describe(url, show_password=True),
        "KURA_DATA_DIR": str(data),
        "SECRET_KEY": "cli-backup-tests-key-0123456789abcdef0123",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "kura", "backup", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _count_patients(url: URL) -> int:
    with psycopg.connect(libpq_conninfo(url)) as conn:
        row = conn.execute("SELECT count(*) FROM patient").fetchone()
    return int(row[0]) if row else -1


def _add_patient(url: URL, name: str) -> None:
    with psycopg.connect(libpq_conninfo(url)) as conn:
        org = conn.execute(
            "INSERT INTO organization (id, name, type, tier, timezone, locale) VALUES "
            "(gen_random_uuid(), 'CLI', 'SOLO', 'BUILDER', 'Europe/Madrid', 'es') RETURNING id"
        ).fetchone()
        assert org
        conn.execute(
            "INSERT INTO patient (id, organization_id, full_name, language, monitoring_consent) "
            "VALUES (gen_random_uuid(), %s, %s, 'es', false)",
            (org[0], name),
        )


def test_create_list_verify_download_restore(cli_db: URL, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _add_patient(cli_db, "Antes")
    created = kura(cli_db, data, "create")
    assert created.returncode == 0, created.stderr
    name = next(w for w in created.stdout.split() if w.startswith("backup_"))
    listed = kura(cli_db, data, "list")
    assert name in listed.stdout
    verified = kura(cli_db, data, "verify", name)
    assert verified.returncode == 0 and "OK" in verified.stdout
    target = tmp_path / "copy.sql.gz"
    downloaded = kura(cli_db, data, "download", name, "-o", str(target))
    assert downloaded.returncode == 0, downloaded.stderr
    stored = (data / "backups" / name).read_bytes()
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(stored).digest()

    _add_patient(cli_db, "Después")
    assert _count_patients(cli_db) == 2
    refused = kura(cli_db, data, "restore", name, stdin="not-the-name\n")
    assert refused.returncode == 2 and "did not match" in refused.stderr
    assert _count_patients(cli_db) == 2
    restored = kura(cli_db, data, "restore", name, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "Pre-restore backup: backup_" in restored.stdout
    assert _count_patients(cli_db) == 1

    listing = kura(cli_db, data, "list", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert {row["kind"] for row in rows} == {"manual", "pre-restore"}
    pre_restore = next(row["filename"] for row in rows if row["kind"] == "pre-restore")
    kept = kura(cli_db, data, "delete", pre_restore, stdin="n\n")
    assert kept.returncode == 2 and "Nothing was deleted" in kept.stderr
    deleted = kura(cli_db, data, "delete", pre_restore, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert [row["filename"] for row in json.loads(kura(cli_db, data, "list", "--json").stdout)] == [
        name
    ]
    last = kura(cli_db, data, "delete", name, "--yes")
    assert last.returncode == 2 and "only backup" in last.stderr


def test_unknown_backup_is_one_clear_line(cli_db: URL, tmp_path: Path) -> None:
    result = kura(cli_db, tmp_path, "verify", "../../etc/passwd")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: No such backup."
