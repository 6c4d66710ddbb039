"""Hostile names, foreign and corrupted files, and a restore that fails half-way: the live
database must stay exactly as it was."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from sqlalchemy.engine import URL

from kura.backups.manifest import Manifest, SigningKey, keyring, sign
from kura.db.urls import libpq_conninfo
from tests.backup_support import BackupEnv, table_fingerprints

API = "/api/v1/admin/backups"
VALID = "backup_2026-01-01_00-00.sql.gz"
HOSTILE = [
    "../backup_2026-01-01_00-00.sql.gz",
    "..%2Fbackup_2026-01-01_00-00.sql.gz",
    "..%252Fbackup_2026-01-01_00-00.sql.gz",
    "%2e%2e%2fbackup_2026-01-01_00-00.sql.gz",
    "..\\backup_2026-01-01_00-00.sql.gz",
    "..%5Cbackup_2026-01-01_00-00.sql.gz",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "%252Fetc%252Fpasswd",
    "....//....//etc/passwd",
    "backup_2026-01-01_00-00.sql.gz%00.txt",
    "backup_2026-01-01_00-00.sql.gz\x00",
    "backup_2026-01-01_00-00.sql.gz.manifest.json",
    ".tmp-0123456789abcdef",
    "outside_backup.sql.gz",
    "linked_backup.sql.gz",
    "backup_2026-01-01_00-00.sql.gz/..",
    "./backup_2026-01-01_00-00.sql.gz",
    "BACKUP_2026-01-01_00-00.SQL.GZ",
    " backup_2026-01-01_00-00.sql.gz",
    "backup_2026-01-01_00-00.sql.gz ",
    "backup_9999-99-99_99-99.sql.gz",
    "x" * 300,
    "~root",
    "$(touch /tmp/kura-pwned)",
]


async def _create(env: BackupEnv) -> str:
    response = await env.client.post(f"{API}/create", headers=env.operator.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["filename"])


def _plant_outside_files(env: BackupEnv, tmp_path: Path) -> None:
    """Real files outside the store, and a symlink inside it pointing at one of them."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / VALID).write_bytes(b"not yours")
    (tmp_path / "outside_backup.sql.gz").write_bytes(b"not yours either")
    env.store_dir.mkdir(parents=True, exist_ok=True)
    (env.store_dir / "linked_backup.sql.gz").symlink_to("/etc/passwd")
    (env.store_dir / "backup_2026-02-02_00-00.sql.gz").symlink_to(outside / VALID)


async def test_hostile_filenames_never_reach_a_file(backup_env: BackupEnv, tmp_path: Path) -> None:
    assert len(HOSTILE) >= 20
    await _create(backup_env)
    _plant_outside_files(backup_env, tmp_path)
    before = sorted(p.name for p in backup_env.store_dir.iterdir())
    headers = backup_env.operator.headers
    for name in [*HOSTILE, "backup_2026-02-02_00-00.sql.gz"]:
        # In the path, already-encoded forms are sent as they are; raw NUL, spaces and
        # backslashes are percent-encoded (an HTTP client cannot send them raw).
        in_path = quote(name, safe="/%$()~")
        download = await backup_env.client.get(f"{API}/{in_path}/download", headers=headers)
        assert download.status_code in (400, 404, 405), (name, download.status_code)
        assert b"root:" not in download.content and b"not yours" not in download.content
        delete = await backup_env.client.delete(f"{API}/{in_path}", headers=headers)
        assert delete.status_code in (400, 404, 405), (name, delete.status_code)
        restore = await backup_env.client.post(
            f"{API}/restore", headers=headers, json={"filename": name, "confirm": True}
        )
        assert restore.status_code in (404, 422), (name, restore.status_code)
    assert sorted(p.name for p in backup_env.store_dir.iterdir()) == before
    assert not Path("/tmp/kura-pwned").exists()
    listed = (await backup_env.client.get(API, headers=headers)).json()
    assert [b["filename"] for b in listed["items"]] != []
    assert all(not b["filename"].startswith("backup_2026-02-02") for b in listed["items"])


async def test_files_not_written_by_this_system_are_not_listed_or_restored(
    backup_env: BackupEnv,
) -> None:
    name = await _create(backup_env)
    data = (backup_env.store_dir / name).read_bytes()
    manifest = json.loads((backup_env.store_dir / f"{name}.manifest.json").read_text())
    manifest.pop("signature")
    manifest["filename"] = VALID
    manifest["created_at"] = "2026-01-01T00:00:00+00:00"
    manifest["created_at"] = datetime.fromisoformat(manifest["created_at"])
    forged = sign(Manifest(**manifest), SigningKey.of("someone-elses-key-0123456789abcdef0123"))
    (backup_env.store_dir / VALID).write_bytes(data)
    (backup_env.store_dir / f"{VALID}.manifest.json").write_bytes(forged)
    (backup_env.store_dir / "backup_2026-01-02_00-00.sql.gz").write_bytes(data)  # no manifest
    listed = (await backup_env.client.get(API, headers=backup_env.operator.headers)).json()
    assert [b["filename"] for b in listed["items"]] == [name]
    refused = await backup_env.client.post(
        f"{API}/restore",
        headers=backup_env.operator.headers,
        json={"filename": VALID, "confirm": True},
    )
    assert refused.status_code == 404


async def test_a_corrupted_file_is_refused_before_anything_happens(
    backup_env: BackupEnv,
) -> None:
    name = await _create(backup_env)
    path = backup_env.store_dir / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    # The size still matches, so the backup is listed; the content check happens on restore.
    response = await backup_env.client.post(
        f"{API}/restore",
        headers=backup_env.operator.headers,
        json={"filename": name, "confirm": True},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "backup_unusable"
    listed = (await backup_env.client.get(API, headers=backup_env.operator.headers)).json()
    assert listed["total"] == 1  # no pre-restore backup either: nothing happened


def _scratch_databases(url: URL) -> list[str]:
    with psycopg.connect(libpq_conninfo(url.set(database="postgres"))) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{url.database}_%",)
        ).fetchall()
    return [r[0] for r in rows]


async def test_a_dump_that_fails_half_way_leaves_the_live_database_untouched(
    backup_env: BackupEnv,
) -> None:
    env = backup_env
    name = await _create(env)
    # A validly signed backup whose SQL breaks in the middle (after some data loaded).
    sql_text = gzip.decompress((env.store_dir / name).read_bytes()).decode()
    cut = sql_text.index("COPY public.patient")
    broken = sql_text[:cut] + "SELECT 1/0;\n" + sql_text[cut:]
    blob = gzip.compress(broken.encode())
    manifest = json.loads((env.store_dir / f"{name}.manifest.json").read_text())
    manifest.pop("signature")
    bad_name = "backup_2026-01-03_10-37.sql.gz"
    manifest.update(
        filename=bad_name,
        sha256=hashlib.sha256(blob).hexdigest(),
        size_bytes=len(blob),
        created_at=datetime.fromisoformat("2026-01-03T10:37:00+00:00"),
    )
    (env.store_dir / bad_name).write_bytes(blob)
    (env.store_dir / f"{bad_name}.manifest.json").write_bytes(
        sign(Manifest(**manifest), keyring(env.settings).current)
    )
    await env.client.post("/api/v1/patients", headers=env.owner.headers, json={"full_name": "Live"})
    live_before = table_fingerprints(env.url)

    response = await env.client.post(
        f"{API}/restore", headers=env.operator.headers, json={"filename": bad_name, "confirm": True}
    )
    assert response.status_code == 500
    assert response.json()["error"] == "restore_failed"
    assert "not changed" in response.json()["detail"]
    with psycopg.connect(libpq_conninfo(env.url)) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_event ORDER BY id")]
    assert [a for a in actions if a.startswith("restore.")][-2:] == [
        "restore.started",
        "restore.failed",
    ]
    assert "backup.created" in actions  # the pre-restore backup, audited like any other
    live_after = table_fingerprints(env.url)
    live_after.pop("public.audit_event")  # restore.started/failed were recorded, as they should
    live_before.pop("public.audit_event")
    assert live_after == live_before
    assert _scratch_databases(env.url) == []
    # Sessions were not ended: nothing was restored.
    assert (await env.client.get("/api/v1/auth/me", headers=env.owner.headers)).status_code == 200
