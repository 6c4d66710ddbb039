"""Patient export memory: peak traced memory building the ZIP of 10x the notes vs 1x.

One embedded PostgreSQL, one patient; the export job's body (`run_export`) runs in process
under tracemalloc, alternating 1x and 10x, so both sizes share the machine's noise. The
baseline is the same export of the 1x record measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from sqlalchemy import delete, insert
from sqlalchemy.engine import URL

from kura.auth.sessions import utcnow
from kura.clinical.models import ClinicalNote
from kura.config import Settings, load_settings
from kura.db.embedded import EmbeddedPostgres
from kura.db.engine import Database
from kura.db.migrate import upgrade_heads
from kura.db.urls import describe
from kura.exports.models import DataExport, ExportKind, ExportStatus
from kura.exports.service import run_export
from kura.monitoring.models import Direction, MessageLog, Routing
from kura.patients.models import Patient
from kura.users import service as users

BASE_NOTES = int(os.environ.get("BENCH_EXPORT_NOTES", "500"))
ROUNDS = int(os.environ.get("BENCH_EXPORT_ROUNDS", "3"))
GOAL = 1.5  # 10x the record may not need more than 1.5x the memory
TEXT = (
    "Sesión de seguimiento: trabajamos respiración, sueño y la relación con su madre; "
    "refiere menos ansiedad, más claridad y alivio. Plan: continuar, revisar en dos semanas. "
) * 6  # about 1 KB per note


async def _seed(database: Database, notes: int) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    async with database.sessionmaker() as session, session.begin():
        user, org = await users.create_organization_with_owner(
            session,
            org_name=f"Bench {notes}",
            email=f"bench{notes}@example.org",
            full_name="Bench Owner",
            password_hash=None,
        )
        patient = Patient(organization_id=org.id, full_name="Paciente Núñez", phone=None)
        session.add(patient)
        await session.flush()
        for start in range(0, notes, 1000):
            rows = [
                {
                    "id": uuid.uuid4(),
                    "organization_id": org.id,
                    "patient_id": patient.id,
                    "content": f"{n}. {TEXT}",
                    "created_by_id": user.id,
                }
                for n in range(start, min(notes, start + 1000))
            ]
            await session.execute(insert(ClinicalNote), rows)
            messages = [
                {
                    "id": uuid.uuid4(),
                    "organization_id": org.id,
                    "patient_id": patient.id,
                    "direction": Direction.INBOUND,
                    "routing": Routing.ROUTED,
                    "from_number": "+34600000001",
                    "to_number": "+34911000000",
                    "body": "Hoy he dormido mejor, gracias.",
                    "created_at": utcnow(),
                }
                for _ in rows
            ]
            await session.execute(insert(MessageLog), messages)
        return org.id, user.id, patient.id


async def _export_once(
    database: Database, settings: Settings, ids: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
) -> tuple[float, float, int]:
    """Peak traced MB, seconds and ZIP bytes of one export of the record."""
    org_id, user_id, patient_id = ids
    async with database.sessionmaker() as session, session.begin():
        export = DataExport(
            organization_id=org_id,
            requested_by_id=user_id,
            kind=ExportKind.PATIENT,
            patient_id=patient_id,
            status=ExportStatus.QUEUED,
            progress=0,
        )
        session.add(export)
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    status = await run_export(database, settings, export.id)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert status is ExportStatus.READY, status
    async with database.sessionmaker() as session, session.begin():
        done = await session.get_one(DataExport, export.id)
        size = done.size_bytes or 0
        await session.execute(delete(DataExport).where(DataExport.id == export.id))
    (settings.kura_data_dir / "exports" / f"export_{export.id.hex}.zip").unlink()
    return peak / 1e6, elapsed, size


async def _measure(url: URL, data_dir: Path) -> dict[int, list[tuple[float, float, int]]]:
    settings = load_settings(
        environment="test",
        database_url=describe(url, show_password=True),
        kura_data_dir=data_dir,
        kura_run_worker=False,
    )
    database = Database.connect(url)
    try:
        seeded = {scale: await _seed(database, BASE_NOTES * scale) for scale in (1, 10)}
        results: dict[int, list[tuple[float, float, int]]] = {1: [], 10: []}
        for _ in range(ROUNDS):
            for scale in (1, 10):
                results[scale].append(await _export_once(database, settings, seeded[scale]))
        return results
    finally:
        await database.dispose()


def measure() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="kura-bench-exports-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg", database="kura_bench")
        server.start()
        try:
            upgrade_heads(server.url())
            results = asyncio.run(_measure(server.url(), Path(tmp) / "data"))
        finally:
            server.stop()
    peak = {s: statistics.median(r[0] for r in rows) for s, rows in results.items()}
    secs = {s: statistics.median(r[1] for r in rows) for s, rows in results.items()}
    size = {s: statistics.median(r[2] for r in rows) for s, rows in results.items()}
    ratios = [ten[0] / one[0] for one, ten in zip(results[1], results[10], strict=True)]
    ratio = statistics.median(ratios)
    result = "met" if ratio <= GOAL else "**missed**"
    return [
        "",
        "## Patient export memory",
        "",
        f"`run_export` of one patient in process under tracemalloc, {ROUNDS} alternating rounds; "
        f"1x = {BASE_NOTES} notes of ~1 KB and as many WhatsApp messages, 10x = ten times that. "
        "Baseline: the 1x export in the same run.",
        "",
        "| record | peak traced memory | time | ZIP size |",
        "|---|---|---|---|",
        *(
            f"| {s}x ({BASE_NOTES * s} notes) | {peak[s]:.1f} MB | {secs[s]:.1f} s | "
            f"{size[s] / 1e6:.1f} MB |"
            for s in (1, 10)
        ),
        "",
        "| what | ratio 10x / 1x (spread) | goal | result |",
        "|---|---|---|---|",
        f"| peak traced memory | {ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) "
        f"| <= {GOAL}x | {result} |",
        "",
    ]


if __name__ == "__main__":
    print("\n".join(measure()))
