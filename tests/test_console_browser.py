"""The operator console in a real browser (headless Debian Chromium driven by Playwright):
the seed's disaster-recovery procedure end to end, and a non-superuser refused.

Screenshots of every page land in test-artifacts/console/ for a look by eye."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.engine import URL

from kura.db.urls import describe
from tests.backup_support import create_from_template, drop
from tests.browser_support import CHROMIUM_ARGS, REPO, find_chromium, watched_page
from tests.operator_support import Operator
from tests.server_support import kura, serving

ARTIFACTS = REPO / "test-artifacts" / "console"
OPERATOR = ("ops@example.org", "operador-seguro-2026")
OWNER = ("owner@example.org", "propietaria-segura-2026")
pytestmark = pytest.mark.timeout(300)


@dataclass
class Console:
    base: str
    data_dir: Path
    operator: Operator  # enrolled in two-step verification over the API, codes kept

    def code(self) -> str:
        """A recovery code for the next sign-in (an app's code is accepted once per 30 s)."""
        return self.operator.recovery_codes.pop()

    def backup_bytes(self, name: str) -> bytes:
        return (self.data_dir / "backups" / name).read_bytes()


@pytest.fixture(scope="module")
def chromium() -> Path:
    return find_chromium()


@pytest.fixture(scope="module")
def console(
    db_url: URL, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    """`kura serve` on its own database (a restore swaps it), with an operator and an owner."""
    url = create_from_template(db_url, "kura_console_e2e", template_db)
    data = tmp_path_factory.mktemp("console") / "kura"
    # The daily backup must not fire during the test: the first backup is the operator's own.
    env = {"DATABASE_URL": describe(url, show_password=True), "BACKUP_CRON": "0 0 29 2 *"}
    try:
        created = kura(
            "createsuperuser",
            "--email",
            OPERATOR[0],
            "--full-name",
            "Operadora",
            KURA_DATA_DIR=str(data),
            KURA_SUPERUSER_PASSWORD=OPERATOR[1],
            **env,
        )
        assert created.returncode == 0, created.stderr
        # strict=False: the restore's rename cuts the job worker's listener, and procrastinate
        # logs that with a traceback before our supervisor restarts it (tests/test_faults.py).
        with serving(data, strict=False, **env) as base:
            registered = httpx.post(
                f"{base}/api/v1/auth/register",
                json={
                    "email": OWNER[0],
                    "password": OWNER[1],
                    "full_name": "Lucía Terapeuta",
                    "org_name": "Consulta Lucía",
                },
            )
            assert registered.status_code == 201, registered.text
            operator = Operator(*OPERATOR)
            operator.headers(base)  # sets up two-step verification, as the first sign-in asks
            yield Console(base, data, operator)
    finally:
        drop(url)


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with watched_page(
        browser, accept_downloads=True, viewport={"width": 1280, "height": 800}
    ) as opened:
        yield opened


def shot(page: Page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def sign_in(page: Page, base: str, email: str, password: str, code: str | None = None) -> None:
    page.goto(f"{base}/admin")
    expect(page).to_have_url(f"{base}/admin/login?next=/admin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if code is not None:
        enter_code(page, code)


def enter_code(page: Page, code: str) -> None:
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify").click()


def test_disaster_recovery_from_the_browser(console: Console, page: Page, tmp_path: Path) -> None:
    base = console.base
    page.goto(f"{base}/admin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_focused()
    shot(page, "01-login")

    page.get_by_label("Email").fill(OPERATOR[0])
    page.get_by_label("Password").fill(OPERATOR[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    shot(page, "01b-two-step")
    enter_code(page, console.code())
    expect(page.get_by_role("heading", name="Status")).to_be_visible()
    page.keyboard.press("Tab")  # keyboard users reach the skip link first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    expect(page.get_by_text("There is no backup yet")).to_be_visible()
    expect(page.get_by_role("link", name="/docs")).to_have_attribute("href", "/docs")
    shot(page, "02-status")

    # Step 1: a backup before the risky change, with a spinner while it runs.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Backups").click()
    expect(page.get_by_text("No backups yet.")).to_be_visible()
    # The test stops the submission after the page's own handler ran, to look at the spinner
    # (a pending navigation cannot be screenshotted), then sends the form on.
    create_form = page.locator('form[action="/admin/backups/create"]')
    create_form.evaluate("form => form.addEventListener('submit', e => e.preventDefault())")
    page.get_by_role("button", name="Create a backup now").click()
    expect(create_form.get_by_role("status")).to_contain_text("Creating a backup")
    expect(create_form.locator(".spinner")).to_be_visible()
    expect(create_form).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="Create a backup now")).to_be_disabled()
    shot(page, "03-backup-running")
    with page.expect_navigation():
        create_form.evaluate("form => form.submit()")
    notice = page.get_by_role("status").filter(has_text="was created and verified")
    expect(notice).to_be_visible()
    name = notice.locator("code").inner_text()
    expect(page.get_by_role("row").filter(has_text=name)).to_be_visible()
    shot(page, "04-backups")

    # Step 2: download it; the file is the one the server stored, byte for byte.
    with page.expect_download() as download_info:
        page.get_by_role("link", name=f"Download {name}").click()
    saved = tmp_path / "downloaded.sql.gz"
    download_info.value.save_as(saved)
    assert download_info.value.suggested_filename == name
    assert saved.read_bytes() == console.backup_bytes(name)
    manifest = json.loads((console.data_dir / "backups" / f"{name}.manifest.json").read_text())
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == manifest["sha256"]

    # Step 3: restore it — only after typing its name.
    page.get_by_role("link", name=f"Restore… {name}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    restore = dialog.get_by_role("button", name="Restore this backup")
    expect(restore).to_be_disabled()
    typed = dialog.get_by_label("Type the backup's name")
    expect(typed).to_be_focused()
    typed.fill(name[:-3])
    expect(restore).to_be_disabled()
    typed.fill(name)
    expect(restore).to_be_enabled()
    shot(page, "05-restore-dialog")
    restore.click()
    expect(page.get_by_role("heading", name="Database restored")).to_be_visible(timeout=120_000)
    pre_restore = page.locator("#pre-restore").inner_text()
    assert pre_restore.startswith("backup_") and pre_restore != name
    shot(page, "06-restored")

    # Step 4: every session ended — back to the sign-in form, then in again.
    page.get_by_role("link", name="Sign in again").click()
    expect(page.get_by_text("every session ended")).to_be_visible()
    page.goto(f"{base}/admin/backups")
    expect(page).to_have_url(f"{base}/admin/login?next=/admin/backups")
    page.get_by_label("Email").fill(OPERATOR[0])
    page.get_by_label("Password").fill(OPERATOR[1])
    page.get_by_role("button", name="Sign in").click()
    enter_code(page, console.code())
    expect(page.get_by_role("row").filter(has_text=pre_restore)).to_be_visible()

    # The audit log tells the story.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").select_option("restore.completed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("status")).to_contain_text("1 event")
    expect(page.get_by_role("cell", name="restore.completed")).to_be_visible()
    page.get_by_label("Action").select_option("")
    page.get_by_role("button", name="Filter").click()
    shot(page, "07-audit")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def test_a_non_superuser_is_refused(console: Console, page: Page) -> None:
    sign_in(page, console.base, *OWNER)
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("for platform operators")
    shot(page, "08-refused")
    response = page.goto(f"{console.base}/admin/backups")
    assert response is not None and response.status == 403
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_delete_asks_first_in_a_dialog(console: Console, page: Page) -> None:
    sign_in(page, console.base, *OPERATOR, code=console.code())
    page.goto(f"{console.base}/admin/backups")
    for _ in range(2):
        page.get_by_role("button", name="Create a backup now").click()
        expect(page.get_by_text("was created and verified")).to_be_visible()
    rows = page.get_by_role("row").filter(has=page.get_by_role("link", name="Download"))
    count = rows.count()
    newest = page.get_by_role("status").locator("code").inner_text()
    page.get_by_role("link", name=f"Delete… {newest}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert rows.count() == count
    page.get_by_role("link", name=f"Delete… {newest}").click()
    dialog.get_by_role("button", name="Delete this backup").click()
    expect(page.get_by_text(f"Backup {newest} was deleted.")).to_be_visible()
    assert rows.count() == count - 1
    assert not (console.data_dir / "backups" / newest).exists()


def test_pages_read_in_order_without_the_stylesheet(console: Console, page: Page) -> None:
    page.route("**/*.css", lambda route: route.abort())
    sign_in(page, console.base, *OPERATOR, code=console.code())
    page.goto(f"{console.base}/admin/backups")
    headings = page.get_by_role("heading").all_inner_texts()
    assert headings[0] == "Backups"
    page.get_by_role("button", name="Create a backup now").click()
    expect(page.get_by_text("was created and verified")).to_be_visible()
    expect(page.get_by_role("table")).to_be_visible()
    # Dialogs stay closed (the browser's own <dialog> styling), links reach the same forms.
    expect(page.get_by_role("dialog")).to_have_count(0)
    shot(page, "09-backups-without-css")
