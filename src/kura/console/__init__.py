"""The operator console: server-rendered pages under /admin for platform operators."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kura.console.web import HERE, PREFIX
from kura.web_pages import PageError, SecurityHeaders, page_error_response


def install_console(app: FastAPI) -> None:
    from kura.console.backup_pages import router as backups
    from kura.console.mfa_pages import router as mfa
    from kura.console.overview_pages import router as overview
    from kura.console.session_pages import router as sessions

    for router in (sessions, mfa, overview, backups):
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(PageError, page_error_response)
    app.add_middleware(SecurityHeaders, prefix=PREFIX)
