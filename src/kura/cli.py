"""The `kura` command: serve, migrate, worker, createsuperuser, config, db, backup."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.engine import URL

from kura import __version__
from kura.aletheia.cli import aletheia_app
from kura.backups.cli import backup_app
from kura.cli_support import (
    check_port_free,
    cli_settings,
    err,
    exit_on_sigterm,
    open_database,
    out,
    run_cli,
    usage_error,
)
from kura.config import Settings, load_settings
from kura.errors import ConfigError, StartupError

app = typer.Typer(
    help="KURA OS — the API server for therapists' and healers' practices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(backup_app, name="backup")
app.add_typer(aletheia_app, name="aletheia")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface (default 127.0.0.1; 0.0.0.0 in production).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default PORT or 8000).")
    ] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    worker: Annotated[
        bool | None,
        typer.Option(help="Run the job worker in this process (default KURA_RUN_WORKER, on)."),
    ] = None,
) -> None:
    """Serve the API. Without DATABASE_URL it starts the embedded PostgreSQL and migrates it."""
    import uvicorn

    from kura.db.location import database_url
    from kura.db.migrate import current_revisions, head_revisions, upgrade_heads
    from kura.db.urls import describe
    from kura.http_server import uvicorn_options
    from kura.logging import get_logger

    log = get_logger("kura.cli")

    def start() -> None:
        settings = cli_settings()
        problems = settings.production_problems()
        if problems:
            raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")
        bind_host = host or settings.bind_host
        bind_port = port or settings.port
        check_port_free(bind_host, bind_port)
        with database_url(settings) as url:
            open_database(url, settings)
            if settings.is_production:
                # The migration job (`kura migrate`) owns the schema; a server never migrates.
                if current_revisions(url) != head_revisions():
                    log.warning("db.schema_not_at_head", hint="run the kura-migrator job")
            else:
                upgrade_heads(url)
            os.environ["DATABASE_URL"] = describe(url, show_password=True)
            run_worker = settings.kura_run_worker if worker is None else worker
            os.environ["KURA_RUN_WORKER"] = "true" if run_worker else "false"
            signal.signal(signal.SIGTERM, exit_on_sigterm)
            log.info("serve.listening", url=f"http://{bind_host}:{bind_port}", version=__version__)
            uvicorn.run(
                "kura.app:create_app",
                factory=True,
                host=bind_host,
                port=bind_port,
                reload=reload,
                **uvicorn_options(settings),
            )

    run_cli(start)


@app.command()
def migrate() -> None:
    """Apply all migrations (`alembic upgrade heads`) — the migration job's command."""
    from kura.db.location import database_url
    from kura.db.migrate import current_revisions, upgrade_heads

    def run() -> None:
        settings = cli_settings(sentry=True)
        with database_url(settings) as url:
            open_database(url, settings)
            upgrade_heads(url)
            out.print(f"Database at revision {', '.join(sorted(current_revisions(url)))}")

    run_cli(run)


@app.command()
def worker() -> None:
    """Run a standalone job worker (periodic jobs included) until interrupted."""
    import kura.registry  # noqa: F401  (every domain's tasks and schedules on the queue)
    from kura.db.engine import Database
    from kura.db.location import database_url
    from kura.jobs.queue import job_queue
    from kura.jobs.worker import run_worker_supervised

    async def work(url: URL, settings: Settings) -> None:
        # The same supervision as the in-process worker (it restarts after losing the
        # database); SIGTERM/SIGINT cancel it, which lets running jobs finish first.
        database = Database.connect(
            url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        try:
            async with job_queue(url, max_size=settings.job_pool_size) as queue:
                task = asyncio.create_task(run_worker_supervised(queue, database, settings))
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signum, task.cancel)
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            await database.dispose()

    def run() -> None:
        settings = cli_settings(sentry=True)
        with database_url(settings) as url:
            open_database(url, settings)
            asyncio.run(work(url, settings))

    run_cli(run)


@app.command()
def demo() -> None:
    """Seed a sample practice to look around in (idempotent; never in production).

    Staff, patients, notes, bookings, a WhatsApp conversation with an AletheIA alert and a
    morning briefing, made through the API."""
    from kura.db.engine import Database
    from kura.db.location import database_url
    from kura.db.migrate import upgrade_heads
    from kura.ops.demo import seed_demo

    async def seed(url: URL, settings: Settings) -> None:
        database = Database.connect(url, pool_size=2)
        try:
            practice = await seed_demo(settings, database)
        finally:
            await database.dispose()
        if practice.created:
            out.print(f"Created the demo practice [bold]{practice.practice}[/]:")
            for what, count in practice.counts.items():
                out.print(f"  {count} {what}")
        else:
            out.print(f"The demo practice [bold]{practice.practice}[/] exists; nothing changed.")
        out.print(
            f"With the server running (make run), open http://127.0.0.1:{settings.port}/docs "
            "and sign in with POST /api/v1/auth/login as:"
        )
        for role, email, password in practice.logins:
            out.print(f"  {role:<9} {email}  password {password}")

    def run() -> None:
        settings = cli_settings(quiet=True)
        if settings.is_production:
            raise ConfigError("kura demo seeds a sample practice: it never runs in production.")
        with database_url(settings) as url:
            open_database(url, settings)
            upgrade_heads(url)
            asyncio.run(seed(url, settings))

    run_cli(run)


@app.command()
def createsuperuser(
    email: Annotated[str, typer.Option(prompt=True, help="The operator's email.")],
    full_name: Annotated[str, typer.Option(prompt="Full name", help="The operator's name.")],
    org_name: Annotated[
        str, typer.Option(help="Organization created for a new operator.")
    ] = "KURA OS Operations",
) -> None:
    """Create a platform operator (superuser), or promote an existing user. Idempotent.

    The password is read from KURA_SUPERUSER_PASSWORD or asked for (never a command-line
    argument); it is only needed when the user does not exist yet.
    """
    from pydantic import EmailStr, TypeAdapter, ValidationError

    from kura.db.engine import Database
    from kura.db.location import database_url
    from kura.users.service import get_by_email
    from kura.users.superuser import ensure_superuser

    try:  # the same rule as sign-in: an address login refuses would lock the operator out
        email = TypeAdapter(EmailStr).validate_python(email.strip())
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("value is not a valid email address: ")
        err.print(
            f"[bold red]error:[/] --email {email!r} cannot sign in: {reason}", highlight=False
        )
        raise typer.Exit(2) from None

    async def create(url: URL) -> str:
        database = Database.connect(url, pool_size=1)
        try:
            async with database.sessionmaker() as session, session.begin():
                password = os.environ.get("KURA_SUPERUSER_PASSWORD")
                if password is None and await get_by_email(session, email) is None:
                    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
                result = await ensure_superuser(
                    session, email=email, full_name=full_name, password=password, org_name=org_name
                )
        finally:
            await database.dispose()
        if result.created:
            return f"Created superuser {result.user.email}."
        if result.promoted:
            return f"{result.user.email} is now a superuser."
        return f"{result.user.email} was already a superuser; nothing changed."

    def run() -> None:
        from kura.db.migrate import upgrade_heads

        settings = cli_settings()
        with database_url(settings) as url:
            open_database(url, settings)
            if not settings.is_production:
                upgrade_heads(url)  # a fresh laptop: the tables must exist first
            out.print(asyncio.run(create(url)), highlight=False)

    run_cli(run)


@app.command("mfa-reset")
def mfa_reset(
    email: Annotated[str, typer.Argument(help="The account locked out of two-step verification.")],
) -> None:
    """Turn two-step verification off for an account whose device and recovery codes are lost.

    Every session of the account ends; it sets MFA up again at its next sign-in (operators must).
    Needs the database itself (like createsuperuser): it is the way back in, not an API."""
    from kura.auth.mfa import reset_for
    from kura.db.engine import Database
    from kura.db.location import database_url
    from kura.users.service import get_by_email

    async def reset(url: URL) -> str:
        database = Database.connect(url, pool_size=1)
        try:
            async with database.sessionmaker() as session, session.begin():
                user = await get_by_email(session, email.strip())
                if user is None:
                    raise KeyError(email)
                had = await reset_for(session, user)
        finally:
            await database.dispose()
        if had:
            return f"Two-step verification is off for {user.email}; their sessions ended."
        return f"{user.email} had no two-step verification; their sessions ended."

    def run() -> None:
        settings = cli_settings()
        with database_url(settings) as url:
            open_database(url, settings)
            try:
                out.print(asyncio.run(reset(url)), highlight=False)
            except KeyError:
                err.print(
                    f"[bold red]error:[/] no account with the email {email!r}", highlight=False
                )
                raise typer.Exit(2) from None

    run_cli(run)


@config_app.command("check")
def config_check() -> None:
    """Show each integration as configured / not configured / invalid (never a value)."""
    from kura.ops.integrations import integration_statuses

    def run() -> None:
        settings = load_settings()
        statuses = integration_statuses(settings)
        table = Table(title=f"KURA OS {__version__} — {settings.environment}")
        for column in ("integration", "state", "required", "note"):
            table.add_column(column)
        colours = {"configured": "green", "not configured": "yellow", "invalid": "red"}
        for status in statuses:
            table.add_row(
                status.name,
                f"[{colours[status.state]}]{status.state}[/]",
                "yes" if status.required else "",
                status.note,
            )
        out.print(table)
        blocking = [s.name for s in statuses if s.blocking or s.state == "invalid"]
        if blocking and settings.is_production:
            err.print(f"[bold red]error:[/] not ready for production: {', '.join(blocking)}")
            raise typer.Exit(1)

    run_cli(run)


@db_app.command("url")
def db_url(
    show_password: Annotated[bool, typer.Option(help="Print the password too.")] = False,
) -> None:
    """Print the database URL (password masked unless --show-password)."""
    from kura.db.location import configured_url, embedded_server
    from kura.db.urls import describe

    def run() -> None:
        settings = load_settings()
        url = configured_url(settings)
        if url is None:
            url = embedded_server(settings).running_url()
            if url is None:
                raise StartupError(
                    f"The embedded database in {settings.kura_data_dir} is not running; "
                    "`kura serve` starts it."
                )
        # psql and every libpq tool accept this form (not SQLAlchemy's postgresql+psycopg://).
        out.print(
            describe(url.set(drivername="postgresql"), show_password=show_password),
            highlight=False,
            soft_wrap=True,
        )

    run_cli(run)


@db_app.command(
    "exec",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def db_exec(ctx: typer.Context) -> None:
    """Run a PostgreSQL tool against the database: `kura db exec -- psql` or `-- pg_dump …`.

    Starts (or joins) the embedded database if needed, sets PGHOST/PGPORT/PGUSER/PGDATABASE
    (and PGPASSWORD — in the environment, never on the command line) and puts the matching
    client tools first on PATH.
    """
    import subprocess

    from kura.backups.pgtools import pg_bin_dir
    from kura.db.location import database_url

    if not ctx.args:
        raise typer.BadParameter("give the command to run after --, e.g. kura db exec -- psql")

    def run() -> int:
        settings = cli_settings()
        with database_url(settings) as url:
            open_database(url, settings)
            env = dict(os.environ)
            env.update(libpq_environment(url))
            bin_dir = pg_bin_dir(settings)
            if bin_dir is not None:
                env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
            try:
                return subprocess.run(ctx.args, env=env, check=False).returncode
            except FileNotFoundError:
                raise StartupError(
                    f"{ctx.args[0]}: command not found (the PostgreSQL client tools are in "
                    "the embedded wheel, or install postgresql-client)."
                ) from None
            except PermissionError:
                raise StartupError(f"{ctx.args[0]}: permission denied.") from None

    raise typer.Exit(run_cli(run))


def libpq_environment(url: URL) -> dict[str, str]:
    """The PG* variables that point libpq tools at `url`."""
    env = {"PGDATABASE": str(url.database)}
    host = url.host or url.query.get("host")
    if host:
        env["PGHOST"] = str(host)
    if url.port:
        env["PGPORT"] = str(url.port)
    if url.username:
        env["PGUSER"] = url.username
    if url.password:
        env["PGPASSWORD"] = url.password
    if "sslmode" in url.query:
        env["PGSSLMODE"] = str(url.query["sslmode"])
    return env


@app.command()
def verify(
    base_url: Annotated[str, typer.Option(help="The deployed API, e.g. https://api.kuraos.ai")],
    expect_live: Annotated[bool, typer.Option(help="Stripe must be in LIVE mode.")] = False,
    require_sentry: Annotated[bool, typer.Option(help="Sentry must be configured.")] = False,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            help="Leave a check out (repeatable): payments, 'briefing audio', whatsapp, "
            "monitoring. Reported as SKIP, never as a pass (e.g. a laptop without Stripe)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Run the post-deployment checklist against a server; exit 0 only if all that ran pass.

    Reads TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_NUMBER (the WhatsApp check) and
    KURA_VERIFY_OPERATOR_EMAIL / KURA_VERIFY_OPERATOR_PASSWORD (the operator status check).
    """
    import json

    from kura.ops.verify import SKIPPABLE, from_environment, passed
    from kura.ops.verify import as_json as to_json

    skipped = frozenset(skip or ())
    unknown = sorted(skipped - set(SKIPPABLE))
    if unknown:
        usage_error(f"--skip {unknown[0]!r}: choose from {', '.join(SKIPPABLE)}")
    if expect_live and "payments" in skipped:
        usage_error("--expect-live needs the payments check: drop --skip payments")
    results = from_environment(
        base_url, expect_live=expect_live, require_sentry=require_sentry, skip=skipped
    ).run()
    if as_json:
        out.print_json(json.dumps(to_json(results)))
    else:
        for check in results:
            mark = (
                "[yellow]SKIP[/]"
                if check.skipped
                else "[green]PASS[/]"
                if check.ok
                else "[bold red]FAIL[/]"
            )
            out.print(f"{mark} {check.name}: {check.detail}", highlight=False)
    if not passed(results):
        raise typer.Exit(1)


@app.callback(invoke_without_command=True)
def _version(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit()


def main() -> None:
    """The `kura` entry point: a bad command line is one `error:` line and exit 2, like every
    other error a user can fix (click would print a usage box)."""
    from typer.exceptions import TyperException

    try:
        status = app(prog_name="kura", standalone_mode=False)
    except TyperException as exc:  # click's UsageError and its kin (typer vendors click)
        show = getattr(exc, "show", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and callable(show):
            show()  # a group called bare: its help, as click does
        else:
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            err.print(f"[bold red]error:[/] {message}{hint}", highlight=False)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    except typer.Abort:
        err.print("[bold red]error:[/] aborted", highlight=False)
        raise SystemExit(1) from None
    raise SystemExit(status if isinstance(status, int) else 0)
