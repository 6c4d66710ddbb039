"""`kura backup create | list | verify | restore | delete | download` — the operator's tools."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy.engine import URL

from kura.backups import progress
from kura.backups.schemas import BackupRead, human_size
from kura.backups.service import BackupService
from kura.cli_support import cli_settings, err, open_database, out, run_cli
from kura.config import Settings
from kura.db.engine import Database
from kura.db.location import database_url
from kura.errors import BadRequest
from kura.storage.factory import backup_store

backup_app = typer.Typer(help="Backups and disaster recovery.", no_args_is_help=True)
T = TypeVar("T")


def _with_service(work: Callable[[BackupService, Settings], Awaitable[T]]) -> T:
    """Run `work` with a BackupService on the configured (or embedded) database."""

    def run() -> T:
        settings = cli_settings(quiet=True)  # the command says what happened; warnings remain
        with database_url(settings) as url:
            open_database(url, settings)
            return asyncio.run(_call(work, settings, url))

    return run_cli(run)


async def _call(
    work: Callable[[BackupService, Settings], Awaitable[T]], settings: Settings, url: URL
) -> T:
    database = Database.connect(url, pool_size=1)
    try:
        return await work(BackupService(settings, backup_store(settings), database), settings)
    finally:
        await database.dispose()


class _Bars:
    """One progress bar per phase (verify, load, pre-restore backup, …), on stderr."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.tasks: dict[str, TaskID] = {}

    def started(self, step: str, total: int | None) -> None:
        self.tasks[step] = self.bars.add_task(step, total=total, size="")

    def advanced(self, step: str, nbytes: int) -> None:
        task = self.tasks[step]
        self.bars.advance(task, nbytes)
        state = self.bars.tasks[task]
        total = f" / {human_size(int(state.total))}" if state.total else ""
        self.bars.update(task, size=f"{human_size(int(state.completed))}{total}")

    def finished(self, step: str) -> None:
        task = self.tasks[step]
        done = self.bars.tasks[task].completed
        self.bars.update(task, total=done or 1, completed=done or 1)


@contextmanager
def _progress_bars() -> Iterator[None]:
    columns = (
        SpinnerColumn(finished_text="✓"),
        TextColumn("{task.description:<20}"),
        BarColumn(),
        TextColumn("{task.fields[size]}"),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=err) as bars, progress.watching(_Bars(bars)):
        yield


@backup_app.command("create")
def create() -> None:
    """Take a backup now."""

    async def work(service: BackupService, _: Settings) -> None:
        with _progress_bars():
            manifest = await service.create(kind="manual")
        out.print(
            f"Created {manifest.filename} ({human_size(manifest.size_bytes)}, "
            f"sha256 {manifest.sha256[:12]}…) in {service.store.location}",
            highlight=False,
        )

    _with_service(work)


@backup_app.command("list")
def list_backups(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """List complete, verified backups, newest first."""

    async def work(service: BackupService, _: Settings) -> None:
        scan = await service.scan()
        rows = [BackupRead.of(manifest) for manifest in scan.backups]
        for entry in scan.unverifiable:  # stderr: --json output stays the list alone
            line = f"[yellow]not listed:[/] {escape(entry.filename)}: {escape(entry.reason)}"
            err.print(line, highlight=False)
        if as_json:
            print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
            return
        table = Table(title=f"Backups in {service.store.location}")
        # The name is what `restore` needs: never cut, whatever the terminal's width.
        longest = max((len(row.filename) for row in rows), default=8)
        table.add_column("filename", no_wrap=True, min_width=longest)
        for column in ("kind", "size", "age (h)", "revision", "sha256"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row.filename,
                row.kind,
                row.size_human,
                f"{row.age_hours:.1f}",
                row.schema_revision or "",
                row.sha256[:12],
            )
        out.print(table)

    _with_service(work)


@backup_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="Backup file name")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a backup and its manifest (never the only one left)."""

    async def work(service: BackupService, _: Settings) -> None:
        manifest = await service.find(name)
        if not yes and not typer.confirm(f"Delete {manifest.filename}?", err=True):
            raise BadRequest("Nothing was deleted.")
        await service.delete(manifest.filename)
        out.print(f"Deleted {manifest.filename}.", highlight=False)

    _with_service(work)


@backup_app.command("verify")
def verify(name: Annotated[str, typer.Argument(help="Backup file name")]) -> None:
    """Check a backup: signed manifest, sha256, complete gzip'd dump."""

    async def work(service: BackupService, _: Settings) -> None:
        with out.status(f"Verifying {name}…"):
            manifest = await service.verify_backup(name)
        out.print(f"{manifest.filename}: OK ({len(manifest.tables)} tables)", highlight=False)

    _with_service(work)


@backup_app.command("restore")
def restore(
    name: Annotated[str, typer.Argument(help="Backup file name")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the database with a backup (a pre-restore backup is taken first)."""

    async def work(service: BackupService, _: Settings) -> None:
        manifest = await service.find(name)
        if not yes:
            err.print(
                f"This replaces the WHOLE database with {manifest.filename} "
                f"({manifest.created_at:%Y-%m-%d %H:%M} UTC). Every session will end."
            )
            typed = typer.prompt("Type the backup's name to confirm")
            if typed.strip() != manifest.filename:
                raise BadRequest("The name did not match; nothing was restored.")
        with _progress_bars():
            result = await service.restore(manifest.filename)
        out.print(
            f"Restored {manifest.filename}. Pre-restore backup: {result.pre_restore.filename}. "
            "Every session has ended.",
            highlight=False,
        )

    _with_service(work)


@backup_app.command("download")
def download(
    name: Annotated[str, typer.Argument(help="Backup file name")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Destination (default: ./NAME)")
    ] = None,
) -> None:
    """Copy a backup out of the store (e.g. off a bucket before a risky change)."""

    async def work(service: BackupService, _: Settings) -> None:
        manifest = await service.find(name)
        destination = output or Path(manifest.filename)
        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=out) as progress, destination.open("wb") as handle:
            task = progress.add_task("download", total=manifest.size_bytes)
            async for chunk in service.stream(manifest):
                handle.write(chunk)
                progress.advance(task, len(chunk))
        out.print(f"Wrote {destination} ({human_size(manifest.size_bytes)})", highlight=False)

    _with_service(work)
