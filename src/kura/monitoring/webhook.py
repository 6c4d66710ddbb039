"""POST /api/v1/webhooks/whatsapp (and the original /webhooks/twilio/whatsapp): Twilio's
signature is verified on the raw form before anything is parsed into our model or stored."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import phonenumbers
from fastapi import APIRouter, Request, Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from kura.config import Settings, secret_value
from kura.db.session import DbSession
from kura.errors import BadRequest, Forbidden, KuraError, ServiceUnavailable
from kura.handlers import Responses
from kura.inputs import has_control_characters, strip_control_characters
from kura.logging import get_logger
from kura.monitoring.service import Inbound, handle_inbound
from kura.monitoring.transcribe import is_twilio_media
from kura.monitoring.unrouted import answer_unknown_sender
from kura.phones import DEFAULT_REGION

router = APIRouter(tags=["webhooks"])
log = get_logger(__name__)
MAX_BODY_BYTES = 64 * 1024
MAX_TEXT_CHARS = 4096
TWIML = "application/xml"


class PayloadTooLarge(KuraError):
    status_code = 413
    code = "payload_too_large"


def twiml(reply: str | None) -> Response:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), media_type=TWIML)


async def _form(request: Request) -> dict[str, str]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge("The request body is too large.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge("The request body is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(
            "The body must be an application/x-www-form-urlencoded UTF-8 form."
        ) from None
    return dict(pairs)


def _signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the public one, not the one behind Cloud Run's TLS proxy."""
    base = settings.public_base_url or str(request.base_url).rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


def verify_twilio_signature(settings: Settings, request: Request, params: dict[str, str]) -> None:
    token = secret_value(settings.twilio_auth_token)
    if token is None:
        if settings.is_production:
            raise ServiceUnavailable("The WhatsApp webhook is not configured (TWILIO_AUTH_TOKEN).")
        log.warning("whatsapp.unsigned_accepted", reason="no TWILIO_AUTH_TOKEN (development)")
        return
    signature = request.headers.get("x-twilio-signature")
    if not signature or not RequestValidator(token).validate(
        _signed_url(settings, request), params, signature
    ):
        log.warning("whatsapp.webhook.rejected", reason="signature")
        raise Forbidden("Invalid or missing Twilio signature.")


def _e164(value: str) -> str | None:
    raw = value.removeprefix("whatsapp:").strip()
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _media(params: dict[str, str]) -> tuple[str | None, str | None]:
    if params.get("NumMedia", "0") in ("", "0"):
        return None, None
    content_type = strip_control_characters(params.get("MediaContentType0", ""))[:100] or None
    url = params.get("MediaUrl0", "")
    if is_twilio_media(url) and len(url) <= 500:
        return content_type, url
    log.warning("whatsapp.media_rejected", host=urlsplit(url).hostname or "")
    return content_type, None


async def _receive(request: Request, session: DbSession) -> Response:
    settings: Settings = request.app.state.settings
    params = await _form(request)
    verify_twilio_signature(settings, request, params)
    sid = params.get("MessageSid") or params.get("SmsMessageSid")
    if not sid or len(sid) > 64 or has_control_characters(sid):
        raise BadRequest("MessageSid, From and To are required.")
    if not params.get("From") or not params.get("To"):
        raise BadRequest("MessageSid, From and To are required.")
    sender, recipient = _e164(params["From"]), _e164(params["To"])
    # A control character must not cost the patient their message: kept without it, screened.
    body = strip_control_characters(params.get("Body", ""))[:MAX_TEXT_CHARS]
    if sender is None or recipient is None:  # no phone we could match: a stranger, screened
        stranger = Inbound(sid=sid, from_number="", to_number="", body=body)
        return twiml((await answer_unknown_sender(stranger)).reply)
    content_type, media_url = _media(params)
    inbound = Inbound(
        sid=sid,
        from_number=sender,
        to_number=recipient,
        body=body,
        media_content_type=content_type,
        media_url=media_url,
    )
    outcome = await handle_inbound(session, settings, inbound)
    return twiml(outcome.reply)


TWIML_RESPONSES: Responses = {
    200: {
        "content": {TWIML: {"schema": {"type": "string"}}},
        "description": "TwiML (the reply, or empty)",
    },
    400: {"description": "Not a UTF-8 form, or MessageSid, From or To missing"},
    403: {"description": "Missing or invalid X-Twilio-Signature"},
    413: {"description": "The request body is too large"},
    503: {"description": "TWILIO_AUTH_TOKEN is not set, or the database is unavailable"},
}


@router.post("/webhooks/whatsapp", response_class=Response, responses=TWIML_RESPONSES)
async def whatsapp_webhook(request: Request, session: DbSession) -> Response:
    """Twilio WhatsApp inbound message: verify, store, screen, reply (TwiML)."""
    return await _receive(request, session)


@router.post("/webhooks/twilio/whatsapp", response_class=Response, responses=TWIML_RESPONSES)
async def twilio_whatsapp_webhook(request: Request, session: DbSession) -> Response:
    """The original system's path for the same webhook."""
    return await _receive(request, session)
