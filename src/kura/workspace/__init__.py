"""The therapist workspace: server-rendered pages under /app for a practice's staff.

The stack is the operator console's (kura.console): Jinja templates, a session-bound CSRF
token, a strict CSP with no inline script or style, HTML error pages, no JavaScript needed.
To add a page (agenda, practice settings…):

- a router with `route_class=WorkspaceRoute` and `prefix=PREFIX` (kura.workspace.web), added to
  `install_workspace` below;
- the caller as a dependency: `Staff` (any role, past sign-in and code), `Clinician` (OWNER or
  THERAPIST: clinical content), `Owner`; a POST takes `form: CheckedForm` (CSRF checked);
- data only through the domain's services/repositories (tenancy, audit), then
  `render(request, "x.html", status, page="agenda", ...)`: templates extend `base.html`,
  whose nav has the blocks `nav_agenda`, `nav_patients` and `nav_settings`; texts are
  `{{ t("key") }}` with keys in `kura/i18n/<lang>/app.toml` (the `app.` area is implied);
- success is `redirect(path)` (POST-redirect-GET); a form with a bad field is rendered again
  with its status (422) and the message next to the field; to also undo the request's writes,
  `raise PageError(page)`. A service's error (NotFound: the 404 page) rolls back too.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kura.web_pages import PageError, SecurityHeaders, page_error_response
from kura.workspace.web import HERE, PREFIX, WORKSPACE_POLICY


def install_workspace(app: FastAPI) -> None:
    from kura.workspace.account_pages import router as account
    from kura.workspace.agenda_pages import router as agenda
    from kura.workspace.alert_pages import router as alert_pages
    from kura.workspace.billing_pages import router as billing
    from kura.workspace.export_pages import router as exports
    from kura.workspace.hours_pages import router as hours
    from kura.workspace.monitoring_pages import router as monitoring
    from kura.workspace.note_pages import router as note_pages
    from kura.workspace.patient_pages import router as patient_pages
    from kura.workspace.practice_pages import router as practice
    from kura.workspace.record_pages import router as records
    from kura.workspace.session_pages import router as sessions
    from kura.workspace.settings_pages import router as settings_pages
    from kura.workspace.today_pages import router as today

    pages = [sessions, today, alert_pages, agenda, patient_pages, note_pages, settings_pages]
    for router in [*pages, hours, monitoring, practice, billing, account, exports, records]:
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="workspace-static")
    app.add_exception_handler(PageError, page_error_response)
    app.add_middleware(SecurityHeaders, prefix=PREFIX, policy=WORKSPACE_POLICY)
