"""The `kura` command, run as a user would: clear one-line errors, real serve lifecycle."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL

from kura import __version__
from kura.db.urls import describe, libpq_conninfo
from tests.server_support import kura, server_env, serving


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    return lines[0]


def test_help_lists_every_command() -> None:
    result = kura("--help")
    assert result.returncode == 0
    for command in ("serve", "migrate", "worker", "config", "db"):
        assert command in result.stdout
    assert kura("--version").stdout.strip() == __version__


def test_the_repository_wrapper_is_the_kura_command() -> None:
    wrapper = Path(__file__).resolve().parent.parent / "kura"
    result = subprocess.run(
        [str(wrapper), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == __version__


BAD_COMMAND_LINES = [
    ["nosuch"],
    ["serve", "--port", "70000"],
    ["serve", "--frobnicate"],
    ["migrate", "extra"],
    ["worker", "--frobnicate"],
    ["demo", "--frobnicate"],
    ["createsuperuser", "--email", "not an email", "--full-name", "Ops"],
    ["config", "check", "--frobnicate"],
    ["config", "nosuch"],
    ["db", "url", "--frobnicate"],
    ["db", "exec"],
    ["backup", "create", "--frobnicate"],
    ["backup", "restore"],
    ["backup", "verify"],
    ["backup", "delete"],
    ["backup", "download"],
    ["backup", "list", "--frobnicate"],
    ["verify"],
    ["verify", "--base-url", "http://127.0.0.1:9", "--skip", "health"],
    ["aletheia", "train", "--frobnicate"],
]


@pytest.mark.parametrize("argv", BAD_COMMAND_LINES, ids=" ".join)
def test_every_bad_command_line_is_one_error_line(argv: list[str], tmp_path: Path) -> None:
    line = _one_clear_line(kura(*argv, KURA_DATA_DIR=str(tmp_path), KURA_SUPERUSER_PASSWORD="x"))
    assert len(line) < 300


def test_malformed_database_url(tmp_path: Path) -> None:
    line = _one_clear_line(
        kura("migrate", DATABASE_URL="mysql://root:hunter22@db/kura", KURA_DATA_DIR=str(tmp_path))
    )
    assert "DATABASE_URL" in line and "hunter22" not in line


def test_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql://kura:hunter22@/kura?host={tmp_path}"
    line = _one_clear_line(kura("migrate", DATABASE_URL=url, KURA_DATA_DIR=str(tmp_path)))
    assert "Cannot connect" in line and "hunter22" not in line


def test_unwritable_data_dir() -> None:
    line = _one_clear_line(kura("migrate", KURA_DATA_DIR="/proc/kura-cannot-exist"))
    assert "KURA_DATA_DIR" in line


def test_port_in_use(db_url: URL, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = _one_clear_line(
            kura(
                "serve",
                "--port",
                port,
                DATABASE_URL=describe(db_url, show_password=True),
                KURA_DATA_DIR=str(tmp_path),
            )
        )
    assert port in line and "--port" in line


def test_invalid_setting_names_the_variable() -> None:
    line = _one_clear_line(kura("db", "url", PORT="not-a-port"))
    assert "PORT" in line


def test_db_url_masks_the_password_unless_asked() -> None:
    url = "postgresql+asyncpg://kura_app:hunter22@/kuraosbd?host=/cloudsql/p:r:i"
    masked = kura("db", "url", DATABASE_URL=url)
    assert masked.returncode == 0
    assert "hunter22" not in masked.stdout and "postgresql://kura_app:***@" in masked.stdout
    shown = kura("db", "url", "--show-password", DATABASE_URL=url)
    assert "hunter22" in shown.stdout


def test_db_url_of_the_running_embedded_server(data_dir: Path, db_url: URL) -> None:
    result = kura("db", "url", KURA_DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    assert str(db_url.query["host"]).replace("/", "%2F") in result.stdout
    printed = result.stdout.strip().replace("/kura?", "/postgres?")  # the session has no "kura"
    psql = subprocess.run(  # the printed URL is one psql accepts
        [_embedded_tool("psql"), printed, "-XAtc", "SELECT 1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert psql.stdout.strip() == "1", psql.stderr


def _embedded_tool(name: str) -> str:
    from kura.backups.pgtools import tool
    from kura.config import load_settings

    return tool(load_settings(), name)


def test_db_exec_of_a_missing_tool_is_one_clear_line(data_dir: Path) -> None:
    line = _one_clear_line(
        kura("db", "exec", "--", "kura-no-such-tool", KURA_DATA_DIR=str(data_dir))
    )
    assert "kura-no-such-tool: command not found" in line


@pytest.mark.parametrize("email", ["ops@kura.local", "not an email"])
def test_createsuperuser_refuses_an_address_sign_in_would_refuse(
    email: str, tmp_path: Path
) -> None:
    result = kura(
        "createsuperuser", "--email", email, "--full-name", "Ops", KURA_DATA_DIR=str(tmp_path)
    )
    line = _one_clear_line(result)
    assert "cannot sign in" in line


def test_config_check_reports_states_without_values(tmp_path: Path) -> None:
    result = kura(
        "config",
        "check",
        ENVIRONMENT="production",
        STRIPE_SECRET_KEY="sk_live_hunter22hunter22",
        TWILIO_AUTH_TOKEN="hunter22token",
        KURA_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 1
    assert "hunter22" not in result.stdout + result.stderr
    assert "not ready for production" in result.stderr
    assert "invalid" in result.stdout  # stripe without its webhook secret, twilio without SID

    ok = kura(
        "config",
        "check",
        ENVIRONMENT="production",
        DATABASE_URL="postgresql://kura_app:pw@/kuraosbd?host=/cloudsql/p:r:i",
        SECRET_KEY="s" * 40,
        PUBLIC_BASE_URL="https://api.kuraos.ai",
        KURA_DATA_DIR=str(tmp_path),
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr


def _embedded_url(data_dir: Path) -> str:
    result = kura("db", "url", KURA_DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _postgres_running(data_dir: Path) -> bool:
    return (data_dir / "pgdata" / "postmaster.pid").exists()


@pytest.mark.timeout(180)
def test_serve_embedded_lifecycle_persistence_and_sharing(tmp_path: Path) -> None:
    data_dir = tmp_path / "kura"
    with serving(data_dir) as base:
        health = httpx.get(f"{base}/health").json()
        assert health == {"status": "healthy", "version": __version__}
        url = _embedded_url(data_dir)
        conninfo = libpq_conninfo(psycopg_url(url))
        with psycopg.connect(conninfo) as conn:
            conn.execute("CREATE TABLE survivor (note text)")
            conn.execute("INSERT INTO survivor VALUES ('still here')")
            conn.commit()
    assert not _postgres_running(data_dir), "PostgreSQL was not stopped on exit"

    # Two servers on one data dir share one PostgreSQL; it stops only when the last one exits.
    first_server = serving(data_dir)
    first = first_server.__enter__()
    with serving(data_dir) as second:
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("SELECT note FROM survivor").fetchone() == ("still here",)
        assert httpx.get(f"{first}/health/ready").status_code == 200
        first_server.__exit__(None, None, None)
        assert httpx.get(f"{second}/health/ready").status_code == 200
    assert not _postgres_running(data_dir)


def test_production_serve_never_migrates(empty_db: URL, tmp_path: Path) -> None:
    with serving(
        tmp_path,
        ENVIRONMENT="production",
        SECRET_KEY="p" * 40,
        DATABASE_URL=describe(empty_db, show_password=True),
    ) as base:
        assert httpx.get(f"{base}/health").status_code == 200
    with psycopg.connect(libpq_conninfo(empty_db)) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)


def test_alembic_upgrade_heads_from_the_repo_root(empty_db: URL) -> None:
    alembic = Path(sys.executable).parent / "alembic"
    result = subprocess.run(
        [str(alembic), "upgrade", "heads"],
        cwd=Path(__file__).resolve().parent.parent,
        env=server_env(DATABASE_URL=describe(empty_db, show_password=True)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(libpq_conninfo(empty_db)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None


def psycopg_url(text: str) -> URL:
    from sqlalchemy.engine import make_url

    return make_url(text)


def test_createsuperuser_creates_then_is_idempotent(empty_db: URL, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": describe(empty_db, show_password=True),
        "KURA_DATA_DIR": str(tmp_path),
        "KURA_SUPERUSER_PASSWORD": "operador-seguro-2026",
    }
    args = ("createsuperuser", "--email", "Ops@KuraOS.ai", "--full-name", "Operaciones")
    first = kura(*args, **env)
    assert first.returncode == 0, first.stderr
    assert "Created superuser ops@kuraos.ai" in first.stdout
    second = kura(*args, **env)
    assert second.returncode == 0
    assert "already a superuser" in second.stdout
    assert "operador-seguro" not in first.stdout + first.stderr + second.stdout
    with psycopg.connect(libpq_conninfo(empty_db)) as conn:
        row = conn.execute(
            "SELECT is_superuser, role FROM user_account WHERE email = 'ops@kuraos.ai'"
        ).fetchone()
    assert row == (True, "OWNER")


def test_createsuperuser_refuses_a_weak_password(empty_db: URL, tmp_path: Path) -> None:
    line = _one_clear_line(
        kura(
            "createsuperuser",
            "--email",
            "ops@kuraos.ai",
            "--full-name",
            "Ops",
            DATABASE_URL=describe(empty_db, show_password=True),
            KURA_DATA_DIR=str(tmp_path),
            KURA_SUPERUSER_PASSWORD="password123",
        )
    )
    assert "too common" in line


def test_a_missing_database_is_named_with_libpq_reason(db_url: URL, tmp_path: Path) -> None:
    url = describe(db_url.set(database="kura_no_such_db"), show_password=True)
    line = _one_clear_line(kura("migrate", DATABASE_URL=url, KURA_DATA_DIR=str(tmp_path)))
    assert 'database "kura_no_such_db" does not exist' in line
    assert "Create the database" in line


def test_an_unknown_role_is_named_with_libpq_reason(db_url: URL, tmp_path: Path) -> None:
    url = describe(db_url.set(username="kura_no_such_role"), show_password=True)
    line = _one_clear_line(kura("migrate", DATABASE_URL=url, KURA_DATA_DIR=str(tmp_path)))
    assert 'role "kura_no_such_role" does not exist' in line
    assert "Check the user in DATABASE_URL" in line


def test_a_database_left_refusing_connections_is_reopened_at_start(
    empty_db: URL, tmp_path: Path
) -> None:
    """What a restore killed after its first statement leaves: every command repairs it."""
    admin = libpq_conninfo(empty_db.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{empty_db.database}" ALLOW_CONNECTIONS false')
    result = kura(
        "migrate", DATABASE_URL=describe(empty_db, show_password=True), KURA_DATA_DIR=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(admin) as conn:
        row = conn.execute(
            "SELECT datallowconn FROM pg_database WHERE datname = %s", (empty_db.database,)
        ).fetchone()
    assert row == (True,)


def test_serve_honours_kura_run_worker(empty_db: URL, tmp_path: Path) -> None:
    def workers_after_start(**env: Any) -> int:
        database = describe(empty_db, show_password=True)
        with (
            serving(tmp_path / "data", DATABASE_URL=database, **env),
            psycopg.connect(libpq_conninfo(empty_db), autocommit=True) as conn,
        ):
            for _ in range(50):
                row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
                if row and row[0]:
                    return int(row[0])
                conn.execute("SELECT pg_sleep(0.1)")
            return 0

    assert workers_after_start(KURA_RUN_WORKER="false") == 0
    assert workers_after_start() == 1  # the default: one in-process worker


def test_mfa_reset_lets_a_locked_out_operator_back_in(empty_db: URL, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": describe(empty_db, show_password=True),
        "KURA_DATA_DIR": str(tmp_path),
        "KURA_SUPERUSER_PASSWORD": "operador-seguro-2026",
    }
    assert (
        kura("createsuperuser", "--email", "ops@kuraos.ai", "--full-name", "Ops", **env).returncode
        == 0
    )
    with psycopg.connect(libpq_conninfo(empty_db)) as conn:
        row = conn.execute("SELECT id FROM user_account WHERE email = 'ops@kuraos.ai'").fetchone()
        assert row is not None
        user_id = row[0]
        conn.execute(
            "INSERT INTO user_mfa (user_id, secret_sealed, enabled_at) VALUES (%s, 'x', now())",
            (user_id,),
        )
    unknown = _one_clear_line(kura("mfa-reset", "nobody@kuraos.ai", **env))
    assert "no account with the email" in unknown
    reset = kura("mfa-reset", "ops@kuraos.ai", **env)
    assert reset.returncode == 0, reset.stderr
    assert "Two-step verification is off for ops@kuraos.ai" in reset.stdout
    with psycopg.connect(libpq_conninfo(empty_db)) as conn:
        assert conn.execute("SELECT count(*) FROM user_mfa").fetchone() == (0,)
        audited = conn.execute(
            "SELECT details->>'by' FROM audit_event WHERE action = 'auth.mfa_disabled'"
        ).fetchall()
    assert audited == [("kura mfa-reset",)]
