"""The app under load, plus the baselines it is compared with, served by the same process."""

from __future__ import annotations

import json
import uuid

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.types import Receive, Scope, Send

from kura.app import create_app
from kura.db.session import DbSession
from kura.monitoring.webhook import _form, twiml, verify_twilio_signature
from kura.patients.models import Patient

BARE_HEALTH_PATH = "/bench/bare-health"
_HEALTH_BODY: bytes = b""


def create_bench_app() -> object:
    """KURA's app with a bare primary-key endpoint, behind a raw ASGI dispatcher."""
    app = create_app()

    @app.get("/bench/bare-patient/{patient_id}", include_in_schema=False)
    async def bare_patient(patient_id: uuid.UUID, session: DbSession) -> dict[str, str]:
        # One primary-key SELECT: no auth, no tenancy, no audit.
        patient = await session.scalar(select(Patient).where(Patient.id == patient_id))
        return {"id": str(patient.id), "full_name": patient.full_name} if patient else {}

    @app.post("/bench/bare-webhook", include_in_schema=False)
    async def bare_webhook(request: Request) -> Response:
        # Only what Twilio verification needs: read the form, check the signature.
        verify_twilio_signature(request.app.state.settings, request, await _form(request))
        return twiml(None)

    from kura import __version__

    body = json.dumps({"status": "healthy", "version": __version__}).encode()

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == BARE_HEALTH_PATH:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return dispatch
