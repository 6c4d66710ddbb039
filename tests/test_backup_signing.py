"""The backup signing key: rotating it (with the old one kept for verification) or rotating
SECRET_KEY never hides a backup; a backup signed with a key no longer configured says which
key id it needs — never a key."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from kura.app import create_app
from kura.backups.manifest import key_id
from kura.backups.service import BackupService
from kura.config import Settings, load_settings
from kura.db.engine import Database
from kura.db.urls import describe
from kura.errors import ConfigError, NotFound
from kura.ops.integrations import integration_statuses
from kura.storage.blobs import LocalBlobStore
from tests.backup_support import BackupEnv, create_from_template, drop, open_env

API = "/api/v1/admin/backups"
SECRET = "backup-tests-signing-key-0123456789abcdef"  # open_env's SECRET_KEY
KEY_A = "backup-signing-key-A-0123456789abcdef0123456789"
KEY_B = "backup-signing-key-B-0123456789abcdef0123456789"
KEYS = (SECRET, KEY_A, KEY_B)


@pytest.fixture
def signing_db(db_url: URL, template_db: str) -> Iterator[URL]:
    url = create_from_template(db_url, "kura_bksign", template_db)
    yield url
    drop(url)


@asynccontextmanager
async def serving(url: URL, data_dir: Path, **overrides: object) -> AsyncIterator[BackupEnv]:
    """The app configured with `overrides`, on the same database and backup folder."""
    envs = open_env(url, data_dir, **overrides)
    try:
        yield await anext(envs)
    finally:
        async for _ in envs:  # run it to the end: lifespan shut down, engine disposed
            pass


def settings_for(url: URL, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, Any] = {"secret_key": SECRET, **overrides}
    return load_settings(
        environment="test",
        database_url=describe(url, show_password=True),
        kura_data_dir=data_dir,
        kura_run_worker=False,
        **values,
    )


@asynccontextmanager
async def service_for(
    url: URL, data_dir: Path, **overrides: object
) -> AsyncIterator[BackupService]:
    settings = settings_for(url, data_dir, **overrides)
    database = Database.connect(url, pool_size=1)
    try:
        yield BackupService(settings, LocalBlobStore(data_dir / "backups"), database)
    finally:
        await database.dispose()


def _manifest(data_dir: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (data_dir / "backups" / f"{name}.manifest.json").read_text()
    )
    return loaded


def _no_key_material(text: str) -> None:
    for key in KEYS:
        assert key not in text


async def _create(env: BackupEnv) -> str:
    response = await env.client.post(f"{API}/create", headers=env.operator.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["filename"])


async def _listing(env: BackupEnv) -> dict[str, Any]:
    response = await env.client.get(API, headers=env.operator.headers)
    assert response.status_code == 200, response.text
    _no_key_material(response.text)
    body: dict[str, Any] = response.json()
    return body


async def test_a_rotated_key_kept_in_the_previous_list_keeps_its_backups(
    signing_db: URL, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with serving(signing_db, data, backup_signing_key=KEY_A) as env:
        old = await _create(env)
    manifest_text = (data / "backups" / f"{old}.manifest.json").read_text()
    assert json.loads(manifest_text)["key_id"] == key_id(KEY_A)
    _no_key_material(manifest_text)

    rotated = {"backup_signing_key": KEY_B, "backup_signing_keys_previous": f"{KEY_A}"}
    async with serving(signing_db, data, **rotated) as env:
        listed = await _listing(env)
        assert [b["filename"] for b in listed["items"]] == [old]
        assert listed["unverifiable"] == []
        download = await env.client.get(f"{API}/{old}/download", headers=env.operator.headers)
        assert download.status_code == 200
        new = await _create(env)
        assert _manifest(data, new)["key_id"] == key_id(KEY_B)  # the current key signs
        listed = await _listing(env)
        assert [b["filename"] for b in listed["items"]] == [new, old]
    async with service_for(signing_db, data, **rotated) as service:
        assert (await service.verify_backup(old)).key_id == key_id(KEY_A)  # `kura backup verify`


async def test_a_key_no_longer_configured_is_named_by_its_id_and_nothing_is_deleted(
    signing_db: URL, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with serving(signing_db, data, backup_signing_key=KEY_A) as env:
        old = await _create(env)

    # Rotated without keeping A (and retention at 1): A's backup is reported, never removed.
    async with serving(signing_db, data, backup_signing_key=KEY_B, backup_retention_count=1) as env:
        listed = await _listing(env)
        assert listed["items"] == []
        [entry] = listed["unverifiable"]
        assert entry["filename"] == old and entry["key_id"] == key_id(KEY_A)
        assert f"signed with key id {key_id(KEY_A)}, which is not configured" in entry["reason"]
        assert "BACKUP_SIGNING_KEYS_PREVIOUS" in entry["reason"]
        restore = await env.client.post(
            f"{API}/restore", headers=env.operator.headers, json={"filename": old, "confirm": True}
        )
        assert restore.status_code == 404
        assert key_id(KEY_A) in restore.json()["detail"]
        assert "BACKUP_SIGNING_KEYS_PREVIOUS" in restore.json()["detail"]
        _no_key_material(restore.text)
        new = await _create(env)  # retention runs: the unverifiable backup is not counted
        assert [b["filename"] for b in (await _listing(env))["items"]] == [new]
    assert (data / "backups" / old).is_file()
    assert (data / "backups" / f"{old}.manifest.json").is_file()

    # Putting A back in the previous list brings it back.
    async with service_for(
        signing_db, data, backup_signing_key=KEY_B, backup_signing_keys_previous=[KEY_A]
    ) as service:
        assert [m.filename for m in await service.list_backups()] == [new, old]


async def test_the_cli_names_the_missing_key_id_and_never_a_key(
    signing_db: URL, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with service_for(signing_db, data, backup_signing_key=KEY_A) as service:
        old = (await service.create()).filename

    def kura(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
        env |= {
            "DATABASE_URL": describe(signing_db, show_password=True),
            "KURA_DATA_DIR": str(data),
            "SECRET_KEY": SECRET,
            "BACKUP_SIGNING_KEY": KEY_B,
            "COLUMNS": "200",
            **extra,
        }
        result = subprocess.run(
            [sys.executable, "-m", "kura", "backup", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        _no_key_material(result.stdout + result.stderr)  # logs included
        return result

    listed = kura("list")
    assert listed.returncode == 0, listed.stderr
    table_rows = [line for line in listed.stdout.splitlines() if "│" in line]
    assert not any(old in row for row in table_rows)
    assert f"not listed: {old}: signed with key id {key_id(KEY_A)}" in listed.stderr
    verify = kura("verify", old)
    assert verify.returncode != 0
    assert key_id(KEY_A) in verify.stderr and "BACKUP_SIGNING_KEYS_PREVIOUS" in verify.stderr

    # The environment's comma-separated list; empty items and placeholders are ignored.
    previous = f" CHANGE_ME , {KEY_A} ,"
    listed = kura("list", BACKUP_SIGNING_KEYS_PREVIOUS=previous)
    assert any(old in line and "│" in line for line in listed.stdout.splitlines())
    assert "not listed" not in listed.stderr
    verified = kura("verify", old, BACKUP_SIGNING_KEYS_PREVIOUS=previous)
    assert verified.returncode == 0 and "OK" in verified.stdout


async def test_rotating_secret_key_alone_no_longer_hides_backups(
    signing_db: URL, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with service_for(signing_db, data, backup_signing_key=KEY_A) as service:
        signed = (await service.create()).filename
    async with service_for(
        signing_db,
        data,
        secret_key="a-new-secret-key-0123456789abcdef0123",
        backup_signing_key=KEY_A,
    ) as service:
        assert [m.filename for m in await service.list_backups()] == [signed]
        await service.verify_backup(signed)


async def test_without_a_backup_key_secret_key_signs_as_before_and_its_rotation_is_named(
    signing_db: URL, tmp_path: Path
) -> None:
    """A laptop sets nothing new: the SECRET_KEY-derived key signs, as before. Rotating
    SECRET_KEY then needs the old value in the previous list."""
    data = tmp_path / "data"
    async with service_for(signing_db, data) as service:
        made = await service.create()
    assert made.key_id == key_id(SECRET)
    rotated = "a-new-secret-key-0123456789abcdef0123"
    async with service_for(signing_db, data, secret_key=rotated) as service:
        scan = await service.scan()
        assert scan.backups == []
        assert [(u.filename, u.key_id) for u in scan.unverifiable] == [
            (made.filename, key_id(SECRET))
        ]
    async with service_for(
        signing_db, data, secret_key=rotated, backup_signing_keys_previous=SECRET
    ) as service:
        await service.verify_backup(made.filename)


def _sign_as_before_key_ids(data: dict[str, Any], secret_key: str) -> bytes:
    """The manifest signing code before BACKUP_SIGNING_KEY existed, verbatim in effect."""
    payload = {k: v for k, v in data.items() if k not in {"signature", "key_id"}}
    key = hmac.new(secret_key.encode(), b"kura-backup-manifest-v1", hashlib.sha256).digest()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    signature = hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return json.dumps({**payload, "signature": signature}, indent=2, sort_keys=True).encode()


async def test_a_manifest_written_before_key_ids_still_verifies(
    signing_db: URL, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with service_for(signing_db, data) as service:
        name = (await service.create()).filename
    path = data / "backups" / f"{name}.manifest.json"
    path.write_bytes(_sign_as_before_key_ids(_manifest(data, name), SECRET))
    assert "key_id" not in _manifest(data, name)

    async with service_for(signing_db, data) as service:  # nothing configured: as today
        [listed] = await service.list_backups()
        assert listed.filename == name and listed.key_id is None
        await service.verify_backup(name)
    # Introducing BACKUP_SIGNING_KEY keeps it: the SECRET_KEY-derived key is always accepted.
    async with service_for(signing_db, data, backup_signing_key=KEY_A) as service:
        await service.verify_backup(name)
    # After SECRET_KEY is rotated it has no key id to name: the reason says what signed it.
    rotated = "a-new-secret-key-0123456789abcdef0123"
    async with service_for(
        signing_db, data, secret_key=rotated, backup_signing_key=KEY_A
    ) as service:
        [entry] = (await service.scan()).unverifiable
        assert entry.key_id is None and "SECRET_KEY of its time" in entry.reason
        with pytest.raises(NotFound, match="BACKUP_SIGNING_KEYS_PREVIOUS"):
            await service.verify_backup(name)
    async with service_for(
        signing_db,
        data,
        secret_key=rotated,
        backup_signing_key=KEY_A,
        backup_signing_keys_previous=[SECRET],
    ) as service:
        await service.verify_backup(name)


async def test_a_manifest_changed_after_signing_is_refused(signing_db: URL, tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with service_for(signing_db, data, backup_signing_key=KEY_A) as service:
        name = (await service.create()).filename
        changed = _manifest(data, name)
        changed["tables"]["public.patient"] += 1
        (data / "backups" / f"{name}.manifest.json").write_text(json.dumps(changed))
        [entry] = (await service.scan()).unverifiable
        assert entry.key_id == key_id(KEY_A) and "changed after it was signed" in entry.reason
        # Claiming another key id does not help either.
        changed["key_id"] = key_id(KEY_B)
        (data / "backups" / f"{name}.manifest.json").write_text(json.dumps(changed))
        assert (await service.scan()).backups == []


def test_previous_keys_are_secrets_split_on_commas(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BACKUP_SIGNING_KEY", KEY_B)
    monkeypatch.setenv("BACKUP_SIGNING_KEYS_PREVIOUS", f"{KEY_A}, ,{SECRET},placeholder")
    settings = load_settings(kura_data_dir=tmp_path)
    assert [s.get_secret_value() for s in settings.backup_signing_keys_previous] == [KEY_A, SECRET]
    _no_key_material(repr(settings))
    assert {KEY_A, KEY_B, SECRET} <= set(settings.secret_values())  # redacted from logs
    monkeypatch.delenv("BACKUP_SIGNING_KEYS_PREVIOUS")
    assert load_settings(kura_data_dir=tmp_path).backup_signing_keys_previous == []


GOOD_URL = "postgresql://kura_app:pw@/kuraosbd?host=/cloudsql/p:r:i"


def test_production_works_without_a_backup_key_but_config_check_warns(tmp_path: Path) -> None:
    settings = load_settings(
        environment="production", secret_key=SECRET, database_url=GOOD_URL, kura_data_dir=tmp_path
    )
    assert settings.production_problems() == []
    status = next(s for s in integration_statuses(settings) if s.name == "backup signing key")
    assert status.state == "not configured" and not status.blocking
    assert "rotating SECRET_KEY hides backups" in status.note

    same = load_settings(
        environment="production",
        secret_key=SECRET,
        database_url=GOOD_URL,
        backup_signing_key=SECRET,
        kura_data_dir=tmp_path,
    )
    status = next(s for s in integration_statuses(same) if s.name == "backup signing key")
    assert status.state == "configured" and "same value as SECRET_KEY" in status.note


def test_production_refuses_a_short_backup_key(tmp_path: Path) -> None:
    settings = load_settings(
        environment="production",
        secret_key=SECRET,
        database_url=GOOD_URL,
        backup_signing_key="short-key",
        kura_data_dir=tmp_path,
    )
    with pytest.raises(ConfigError, match="BACKUP_SIGNING_KEY is shorter than 32") as caught:
        create_app(settings)
    assert "short-key" not in str(caught.value)
