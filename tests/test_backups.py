"""The backup API: who may use it, what it writes, and a restore that gives back exactly the
backed-up rows — or changes nothing."""

from __future__ import annotations

import gzip
import hashlib
import json

import psycopg
from sqlalchemy import select

from kura.audit.models import AuditEvent
from kura.backups.lock import exclusive_operation
from kura.db.urls import libpq_conninfo
from tests.backup_support import BackupEnv, table_fingerprints
from tests.factories import PASSWORD, fresh_codes

API = "/api/v1/admin/backups"


async def _create(env: BackupEnv) -> dict[str, object]:
    response = await env.client.post(f"{API}/create", headers=env.operator.headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_only_superusers_may_touch_backups(backup_env: BackupEnv) -> None:
    name = "backup_2026-01-01_00-00.sql.gz"
    calls = [
        ("get", API, None),
        ("post", f"{API}/create", None),
        ("post", f"{API}/restore", {"filename": name, "confirm": True}),
        ("get", f"{API}/{name}/download", None),
        ("delete", f"{API}/{name}", None),
    ]
    for method, url, body in calls:
        anonymous = await backup_env.client.request(method, url, json=body)
        assert anonymous.status_code == 401, url
        owner = await backup_env.client.request(
            method, url, json=body, headers=backup_env.owner.headers
        )
        assert owner.status_code == 403, url
    assert not backup_env.store_dir.exists() or not list(backup_env.store_dir.iterdir())


async def test_create_writes_a_verified_backup_with_a_signed_manifest(
    backup_env: BackupEnv,
) -> None:
    created = await _create(backup_env)
    name = str(created["filename"])
    assert name.startswith("backup_") and name.endswith(".sql.gz")
    data = (backup_env.store_dir / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == created["sha256"]
    sql_text = gzip.decompress(data).decode()
    assert "CREATE TABLE public.patient" in sql_text
    assert "-- PostgreSQL database dump complete" in sql_text[-300:]
    assert "OWNER TO" not in sql_text and "GRANT " not in sql_text  # --no-owner --no-acl
    manifest = json.loads((backup_env.store_dir / f"{name}.manifest.json").read_text())
    assert manifest["tables"]["public.patient"] == 3
    assert manifest["schema_revision"] and manifest["signature"]
    listed = (await backup_env.client.get(API, headers=backup_env.operator.headers)).json()
    assert listed["total"] == 1
    entry = listed["items"][0]
    assert entry["filename"] == name and entry["sha256"] == created["sha256"]
    assert entry["size_bytes"] == len(data) and entry["age_hours"] >= 0
    assert listed["storage_location"].startswith("local:")


async def test_a_second_backup_in_the_same_minute_gets_a_suffix(backup_env: BackupEnv) -> None:
    first = await _create(backup_env)
    second = await _create(backup_env)
    assert first["filename"] != second["filename"]
    listed = (await backup_env.client.get(API, headers=backup_env.operator.headers)).json()
    assert listed["items"][0]["filename"] == second["filename"]  # newest first
    if str(first["filename"])[:24] == str(second["filename"])[:24]:
        assert str(second["filename"]).endswith("_2.sql.gz")


async def test_backup_change_restore_gives_back_exactly_the_backed_up_rows(
    backup_env: BackupEnv,
) -> None:
    env = backup_env
    before = table_fingerprints(env.url)
    created = await _create(env)
    # Change data after the backup: add, edit and delete.
    patients = (await env.client.get("/api/v1/patients", headers=env.owner.headers)).json()
    await env.client.post(
        "/api/v1/patients", headers=env.owner.headers, json={"full_name": "Nuevo"}
    )
    first = patients["items"][0]["id"]
    await env.client.patch(
        f"/api/v1/patients/{first}", headers=env.owner.headers, json={"full_name": "Cambiado"}
    )
    await env.client.delete(
        f"/api/v1/patients/{patients['items'][1]['id']}", headers=env.owner.headers
    )
    assert table_fingerprints(env.url)["public.patient"] != before["public.patient"]

    restored = await env.client.post(
        f"{API}/restore",
        headers=env.operator.headers,
        json={"filename": created["filename"], "confirm": True},
    )
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["pre_restore_backup"].startswith("backup_")
    after = table_fingerprints(env.url)
    for table in (
        "public.patient",
        "public.organization",
        "public.user_account",
        "public.clinical_note",
        "public.auth_session",
        "public.password_token",
    ):
        assert after[table] == before[table], table
    # Every session issued before the restore is dead — these users exist in the backup.
    for member in (env.operator, env.owner):
        me = await env.client.get("/api/v1/auth/me", headers=member.headers)
        assert me.status_code == 401
    env.client.cookies.clear()
    relog = await env.client.post(
        "/api/v1/auth/login", json={"email": env.operator.user.email, "password": PASSWORD}
    )
    assert relog.status_code == 200 and relog.json()["mfa_required"] is True
    assert env.operator.mfa_secret is not None
    for code in fresh_codes(env.operator.mfa_secret):  # the first step not used yet
        verified = await env.client.post(
            "/api/v1/auth/mfa/verify",
            headers={"Authorization": f"Bearer {relog.json()['access_token']}"},
            json={"code": code},
        )
        if verified.status_code == 200:
            break
    token = verified.json()["access_token"]
    listed = (await env.client.get(API, headers={"Authorization": f"Bearer {token}"})).json()
    names = {b["filename"]: b["kind"] for b in listed["items"]}
    assert names[body["pre_restore_backup"]] == "pre-restore"
    async with env.database.sessionmaker() as session:
        actions = set(await session.scalars(select(AuditEvent.action)))
    assert "restore.completed" in actions


async def test_restore_requires_confirm_true(backup_env: BackupEnv) -> None:
    created = await _create(backup_env)
    for confirm in (False, None):
        body = {"filename": created["filename"]}
        if confirm is not None:
            body["confirm"] = confirm
        response = await backup_env.client.post(
            f"{API}/restore", headers=backup_env.operator.headers, json=body
        )
        assert response.status_code == 400
        assert "confirm" in response.json()["detail"]
    listed = (await backup_env.client.get(API, headers=backup_env.operator.headers)).json()
    assert listed["total"] == 1  # no pre-restore backup was taken


async def test_download_streams_the_file(backup_env: BackupEnv) -> None:
    created = await _create(backup_env)
    response = await backup_env.client.get(
        f"{API}/{created['filename']}/download", headers=backup_env.operator.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    assert f'filename="{created["filename"]}"' in response.headers["content-disposition"]
    assert hashlib.sha256(response.content).hexdigest() == created["sha256"]


async def test_delete_removes_backup_and_manifest_but_never_the_last_one(
    backup_env: BackupEnv,
) -> None:
    first = await _create(backup_env)
    only = await backup_env.client.delete(
        f"{API}/{first['filename']}", headers=backup_env.operator.headers
    )
    assert only.status_code == 400
    await _create(backup_env)
    deleted = await backup_env.client.delete(
        f"{API}/{first['filename']}", headers=backup_env.operator.headers
    )
    assert deleted.status_code == 200
    assert not (backup_env.store_dir / str(first["filename"])).exists()
    assert not (backup_env.store_dir / f"{first['filename']}.manifest.json").exists()


async def test_one_operation_at_a_time(backup_env: BackupEnv) -> None:
    async with exclusive_operation(backup_env.url):
        busy = await backup_env.client.post(f"{API}/create", headers=backup_env.operator.headers)
    assert busy.status_code == 409
    assert "already running" in busy.json()["detail"]


async def test_backup_operations_are_audited(backup_env: BackupEnv) -> None:
    a = await _create(backup_env)
    b = await _create(backup_env)
    await backup_env.client.get(
        f"{API}/{a['filename']}/download", headers=backup_env.operator.headers
    )
    await backup_env.client.delete(f"{API}/{b['filename']}", headers=backup_env.operator.headers)
    with psycopg.connect(libpq_conninfo(backup_env.url)) as conn:
        rows = conn.execute(
            "SELECT action, actor_id, details->>'filename' FROM audit_event "
            "WHERE action LIKE 'backup.%' ORDER BY id"
        ).fetchall()
    assert [r[0] for r in rows] == [
        "backup.created",
        "backup.created",
        "backup.downloaded",
        "backup.deleted",
    ]
    assert all(r[1] == backup_env.operator.user.id for r in rows)
    assert rows[2][2] == a["filename"]


class _Recorder:
    def __init__(self) -> None:
        self.steps: dict[str, list[int | None]] = {}  # step -> [total, bytes seen, finished]

    def started(self, step: str, total: int | None) -> None:
        self.steps[step] = [total, 0, 0]

    def advanced(self, step: str, nbytes: int) -> None:
        self.steps[step][1] = int(self.steps[step][1] or 0) + nbytes

    def finished(self, step: str) -> None:
        self.steps[step][2] = 1


async def test_backup_and_restore_report_their_phases_and_bytes(backup_env: BackupEnv) -> None:
    """What `kura backup create|restore` draws: each phase, and bytes that add up."""
    from kura.backups import progress
    from kura.backups.service import BackupService
    from kura.storage.factory import backup_store

    service = BackupService(
        backup_env.settings, backup_store(backup_env.settings), backup_env.database
    )
    made = _Recorder()
    with progress.watching(made):
        manifest = await service.create(kind="manual")
    assert made.steps == {"manual backup": [None, manifest.size_bytes, 1]}
    restored = _Recorder()
    with progress.watching(restored):
        result = await service.restore(manifest.filename)
    size = manifest.size_bytes
    assert restored.steps["verify"] == [size, size, 1]
    assert restored.steps["load"] == [size, size, 1]
    assert restored.steps["pre-restore backup"] == [None, result.pre_restore.size_bytes, 1]
    assert restored.steps["migrate and swap"] == [None, 0, 1]
