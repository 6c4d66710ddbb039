"""The operator console over HTTP: who gets in, CSRF, headers, and every backup action."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from kura.audit.models import AuditEvent
from kura.audit.service import AuditAction, record
from kura.console.web import CONTENT_SECURITY_POLICY
from tests.backup_support import BackupEnv
from tests.console_support import console_login, csrf_of

TEMPLATES = Path(__file__).parents[1] / "src" / "kura" / "console" / "templates"


def _backup_names(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><code>(backup_[^<]+)</code></th>', html)


async def test_without_a_session_every_page_leads_to_the_sign_in_form(
    backup_env: BackupEnv,
) -> None:
    async with backup_env.new_client() as browser:
        for page in ("/admin", "/admin/backups", "/admin/audit"):
            response = await browser.get(page)
            assert response.status_code == 303
            assert response.headers["location"] == f"/admin/login?next={page}"
        form = await browser.get("/admin/login")
        assert form.status_code == 200
        assert 'type="password"' in form.text and '<label for="password">' in form.text
        posted = await browser.post("/admin/backups/create", data={"csrf_token": "x"})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/admin/login")
    assert not backup_env.store_dir.exists() or not list(backup_env.store_dir.iterdir())


async def test_security_headers_on_pages_redirects_and_static_files(
    backup_env: BackupEnv,
) -> None:
    async with backup_env.new_client() as browser:
        for path in ("/admin/login", "/admin", "/admin/static/console.js", "/admin/nope"):
            response = await browser.get(path)
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        api = await browser.get("/api/v1/openapi.json")
        assert "content-security-policy" not in api.headers  # /docs loads Swagger UI's own JS


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    for template in TEMPLATES.glob("*.html"):
        html = template.read_text()
        assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, template.name
        assert re.search(r"\sstyle=", html) is None, template.name
        assert re.search(r"\son[a-z]+=", html) is None, template.name
        assert "<style" not in html, template.name


async def test_operator_signs_in_and_sees_the_status_page(backup_env: BackupEnv) -> None:
    async with backup_env.new_client() as browser:
        signed_in = await console_login(
            browser, backup_env.operator.user.email, mfa_secret=backup_env.operator.mfa_secret
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin"
        page = await browser.get("/admin")
        assert page.status_code == 200
        assert "no-store" in page.headers["cache-control"]
        html = page.text
        assert "There is no backup yet" in html  # a warning, since no backup exists
        assert re.search(r"Database schema \(migration\)</dt><dd><code>\w+</code>", html)
        assert "NOT CONFIGURED" in html  # Stripe in the test environment
        assert 'href="/docs"' in html


async def test_status_page_warns_about_stripe_test_mode_in_production_without_values(
    backup_env: BackupEnv,
) -> None:
    # Production settings are checked at start; the page only reads them, so swap them in.
    key = "sk_test_" + "s3cr3t" * 6
    production = backup_env.settings.model_copy(
        update={"environment": "production", "stripe_secret_key": SecretStr(key)}
    )
    backup_env.app.state.settings = production
    try:
        # Production cookies are Secure: only sent over https.
        async with backup_env.new_client("https://test") as browser:
            await console_login(
                browser, backup_env.operator.user.email, mfa_secret=backup_env.operator.mfa_secret
            )
            html = (await browser.get("/admin")).text
    finally:
        backup_env.app.state.settings = backup_env.settings
    assert "Stripe is in TEST mode in production" in html
    assert "s3cr3t" not in html


async def test_a_non_superuser_is_refused_with_a_page(backup_env: BackupEnv) -> None:
    async with backup_env.new_client() as browser:
        await console_login(browser, backup_env.owner.user.email)
        for page in ("/admin", "/admin/backups", "/admin/audit"):
            response = await browser.get(page)
            assert response.status_code == 403, page
            assert response.headers["content-type"].startswith("text/html")
            assert "for platform operators" in response.text
        # They can still sign out from the refusal page.
        token = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        assert token is not None
        out = await browser.post("/admin/logout", data={"csrf_token": token.group(1)})
        assert out.status_code == 303


async def test_wrong_password_and_expired_form_are_explained(backup_env: BackupEnv) -> None:
    async with backup_env.new_client() as browser:
        wrong = await console_login(browser, backup_env.operator.user.email, "not-the-password")
        assert wrong.status_code == 401
        assert 'role="alert"' in wrong.text
        stale = await browser.post(
            "/admin/login",
            data={"email": "a@b.org", "password": "x", "login_token": "forged", "next": "/admin"},
        )
        assert stale.status_code == 400 and "expired" in stale.text


async def test_sign_in_never_redirects_off_the_console(backup_env: BackupEnv) -> None:
    for target in ("//evil.example/admin", "https://evil.example/", "/api/v1/auth/me", "/admin\\x"):
        async with backup_env.new_client() as browser:
            response = await console_login(
                browser, backup_env.operator.user.email, next_path=target
            )
            # The operator has MFA: the code form comes next, and it too stays on the console.
            assert response.headers["location"] == "/admin/mfa?next=/admin", target


async def test_state_changes_need_the_sessions_csrf_token_and_same_origin(
    backup_env: BackupEnv,
) -> None:
    async with backup_env.new_client() as first, backup_env.new_client() as second:
        await console_login(
            first, backup_env.operator.user.email, mfa_secret=backup_env.operator.mfa_secret
        )
        await console_login(
            second, backup_env.operator.user.email, mfa_secret=backup_env.operator.mfa_secret
        )
        token = await csrf_of(first)
        other_sessions_token = await csrf_of(second)
        assert token != other_sessions_token
        refused = [
            await first.post("/admin/backups/create", data={}),
            await first.post("/admin/backups/create", data={"csrf_token": other_sessions_token}),
            await first.post(
                "/admin/backups/create",
                data={"csrf_token": token},
                headers={"Origin": "https://evil.example"},
            ),
            await first.post(
                "/admin/backups/create",
                data={"csrf_token": token},
                headers={"Sec-Fetch-Site": "cross-site"},
            ),
        ]
        assert [r.status_code for r in refused] == [403] * 4
        assert "expired or did not come from this console" in refused[0].text
        assert not backup_env.store_dir.exists() or not list(backup_env.store_dir.iterdir())
        # The same request from the page itself works.
        created = await first.post(
            "/admin/backups/create",
            data={"csrf_token": token},
            headers={"Origin": "http://test", "Sec-Fetch-Site": "same-origin"},
        )
        assert created.status_code == 303


async def test_create_list_download_delete_from_the_console(backup_env: BackupEnv) -> None:
    async with backup_env.new_client() as browser:
        await console_login(
            browser, backup_env.operator.user.email, mfa_secret=backup_env.operator.mfa_secret
        )
        token = await csrf_of(browser)
        names = []
        for _ in range(2):
            created = await browser.post("/admin/backups/create", data={"csrf_token": token})
            assert created.status_code == 303
            name = created.headers["location"].split("created=")[1]
            names.append(name)
            listing = await browser.get(created.headers["location"])
            assert f"Backup <code>{name}</code> was created and verified" in listing.text
        assert sorted(_backup_names(listing.text)) == sorted(names)

        download = await browser.get(f"/admin/backups/{names[0]}/download")
        assert download.status_code == 200
        assert download.content == (backup_env.store_dir / names[0]).read_bytes()

        confirm = await browser.get(f"/admin/backups/{names[0]}/delete")
        assert confirm.status_code == 200 and "deleted for good" in confirm.text
        deleted = await browser.post(
            f"/admin/backups/{names[0]}/delete", data={"csrf_token": token}
        )
        assert deleted.status_code == 303
        listing = await browser.get(deleted.headers["location"])
        assert _backup_names(listing.text) == [names[1]]
        assert not (backup_env.store_dir / names[0]).exists()

        # The last backup is never deleted: the refusal is a page, not JSON.
        last = await browser.post(f"/admin/backups/{names[1]}/delete", data={"csrf_token": token})
        assert last.status_code == 400 and last.headers["content-type"].startswith("text/html")
        assert "only backup" in last.text
        assert f"/admin/backups/{names[1]}/delete" not in listing.text  # no Delete offered
        missing = await browser.get("/admin/backups/backup_2020-01-01_00-00.sql.gz/restore")
        assert missing.status_code == 404
        hostile = await browser.get("/admin/backups/..%2F..%2Fetc%2Fpasswd/download")
        assert hostile.status_code in (400, 404)
    async with backup_env.database.sessionmaker() as session:
        actions = set(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.actor_id == backup_env.operator.user.id)
            )
        )
    assert {"backup.created", "backup.downloaded", "backup.deleted"} <= actions


async def test_restore_needs_the_typed_name_then_ends_every_session(
    backup_env: BackupEnv,
) -> None:
    async with backup_env.new_client() as browser, backup_env.new_client() as owner:
        await console_login(
            browser, backup_env.operator.user.email, mfa_secret=backup_env.operator.mfa_secret
        )
        await console_login(owner, backup_env.owner.user.email)
        token = await csrf_of(browser)
        created = await browser.post("/admin/backups/create", data={"csrf_token": token})
        name = created.headers["location"].split("created=")[1]

        page = await browser.get(f"/admin/backups/{name}/restore")
        assert f"Type the backup's name, <code>{name}</code>, to confirm" in page.text
        mistyped = await browser.post(
            f"/admin/backups/{name}/restore",
            data={"csrf_token": token, "confirm_name": name.replace("backup", "backups")},
        )
        assert mistyped.status_code == 400 and "Nothing was restored" in mistyped.text
        assert _backup_names((await browser.get("/admin/backups")).text) == [name]

        restored = await browser.post(
            f"/admin/backups/{name}/restore", data={"csrf_token": token, "confirm_name": name}
        )
        assert restored.status_code == 200, restored.text
        pre = re.search(r'<code id="pre-restore">(backup_[^<]+)</code>', restored.text)
        assert pre is not None and pre.group(1) != name
        assert 'href="/admin/login?notice=restored"' in restored.text
        assert "Sign out" not in restored.text
        # Every session ended: the operator's and the practice owner's.
        assert (await browser.get("/admin")).status_code == 303
        assert (await owner.get("/api/v1/auth/me")).status_code == 401
        again = await console_login(
            browser, backup_env.operator.user.email, mfa_secret=backup_env.operator.mfa_secret
        )
        assert again.status_code == 303
        assert set(_backup_names((await browser.get("/admin/backups")).text)) >= {
            name,
            pre.group(1),
        }


async def test_audit_page_filters_by_actor_action_and_time_and_pages(
    backup_env: BackupEnv,
) -> None:
    async with backup_env.database.sessionmaker() as session, session.begin():
        for n in range(55):
            await record(
                session,
                AuditAction.PATIENT_VIEWED,
                organization_id=backup_env.owner.organization.id,
                actor_id=backup_env.owner.user.id,
                target_type="patient",
                target_id=f"p-{n}",
            )
    async with backup_env.new_client() as browser:
        await console_login(
            browser, backup_env.operator.user.email, mfa_secret=backup_env.operator.mfa_secret
        )
        everything = await browser.get("/admin/audit")
        assert everything.status_code == 200
        assert "page 1 of 2" in everything.text and 'rel="next"' in everything.text

        query = {"actor": backup_env.owner.user.email.upper(), "action": "patient.viewed"}
        first = await browser.get("/admin/audit", params=query)
        assert "55 events — page 1 of 2" in first.text
        assert first.text.count("<code>patient.viewed</code>") == 50
        assert backup_env.owner.organization.name in first.text  # the practice, by name
        next_link = re.search(r'href="(\?[^"]+)" rel="next"', first.text)
        assert next_link is not None
        second = await browser.get("/admin/audit" + next_link.group(1).replace("&amp;", "&"))
        assert "page 2 of 2" in second.text
        assert second.text.count("<code>patient.viewed</code>") == 5

        only_operator = await browser.get(
            "/admin/audit", params={"actor": backup_env.operator.user.email}
        )
        assert "patient.viewed" not in only_operator.text.split("<tbody>")[-1]
        future = await browser.get("/admin/audit", params={"since": "2999-01-01T00:00"})
        assert "0 events" in future.text

        for bad in ({"since": "yesterday"}, {"action": "drop.table"}, {"page": "0"}):
            refused = await browser.get("/admin/audit", params=bad)
            assert refused.status_code == 400, bad
            assert 'role="alert"' in refused.text
        backwards = await browser.get(
            "/admin/audit", params={"since": "2026-02-01T00:00", "until": "2026-01-01T00:00"}
        )
        assert backwards.status_code == 400 and "must be before" in backwards.text
