"""A local fake Stripe server the real SDK talks to, its fixtures, and events signed with the
SDK's own scheme (tests/test_payments.py, tests/test_connect.py)."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from itertools import count
from typing import Any
from urllib.parse import parse_qsl

import stripe
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kura.bookings.models import Booking, Service
from kura.db.base import utcnow
from tests.factories import Member, make_patient

WHSEC = "whsec_test_0123456789abcdef"
_ids = count(1)


class FakeStripe(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    intents: dict[str, dict[str, Any]] = {}
    sessions: dict[str, dict[str, Any]] = {}
    connect_enabled = True

    def _reply(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _live(self) -> bool:
        """As Stripe: an object is live when the key that made it is a live key."""
        return "_live_" in (self.headers.get("Authorization") or "")

    def do_GET(self) -> None:
        self.requests.append({"method": "GET", "path": self.path})
        object_id = self.path.rsplit("/", 1)[-1]
        found = self.intents.get(object_id) or self.sessions.get(object_id)
        if found is None:
            self._reply(_no_such(object_id), 404)
            return
        self._reply(found)

    def _checkout_session(self, n: int, params: dict[str, str]) -> None:
        """As Stripe: expires_at 30 minutes to 24 hours ahead; no PaymentIntent until paid."""
        now = int(time.time())
        expires_at = int(params.get("expires_at", now + 86400))
        if not now + 1800 <= expires_at <= now + 86400:
            limit = "at least 30 minutes" if expires_at < now + 1800 else "less than 24 hours"
            self._reply(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "param": "expires_at",
                        "message": f"The `expires_at` timestamp must be {limit} from "
                        "Checkout Session creation.",
                    }
                },
                400,
            )
            return
        mode = params.get("mode")
        amount = None
        if mode == "payment":
            amount = int(params["line_items[0][price_data][unit_amount]"]) * int(
                params.get("line_items[0][quantity]", 1)
            )
        checkout: dict[str, Any] = {
            "id": f"cs_test_{n}",
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "livemode": self._live(),
            "url": f"https://checkout.stripe.test/c/pay/cs_test_{n}",
            "expires_at": expires_at,
            "amount_total": amount,
            "currency": params.get("line_items[0][price_data][currency]"),
            "payment_intent": None,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
        }
        self.sessions[checkout["id"]] = checkout
        self._reply(checkout)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        params = dict(parse_qsl(raw))
        self.requests.append(
            {
                "method": "POST",
                "path": self.path,
                "params": params,
                "idempotency": self.headers.get("Idempotency-Key"),
                "auth": self.headers.get("Authorization"),
            }
        )
        n = next(_ids)
        if self.path == "/v1/payment_intents":
            intent_id = f"pi_test_{n}"
            intent: dict[str, Any] = {
                "id": intent_id,
                "object": "payment_intent",
                "livemode": self._live(),
                "amount": int(params["amount"]),
                "currency": params["currency"],
                "client_secret": f"pi_test_{n}_secret_x",
                "status": "requires_payment_method",
                "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
            }
            self.intents[intent_id] = intent
            self._reply(intent)
        elif self.path == "/v1/checkout/sessions":
            self._checkout_session(n, params)
        elif self.path == "/v1/refunds":
            intent = self.intents[params["payment_intent"]]
            amount = int(params.get("amount", intent["amount"]))
            left = intent["amount"] - intent.get("amount_refunded", 0)
            if amount > left:
                self._reply(
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "amount_too_large",
                            "message": f"Refund amount ({amount}) is greater than unrefunded "
                            f"amount on charge ({left})",
                            "param": "amount",
                        }
                    },
                    400,
                )
                return
            intent["amount_refunded"] = intent.get("amount_refunded", 0) + amount
            self._reply(
                {
                    "id": f"re_test_{n}",
                    "object": "refund",
                    "amount": amount,
                    "currency": intent["currency"],
                    "payment_intent": intent["id"],
                    "reason": params.get("reason"),
                    "status": "succeeded",
                }
            )
        elif self.path == "/v1/accounts":
            if not self.connect_enabled:
                # Stripe's answer on a platform that has not signed up for Connect.
                self._reply(
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "You can only create new accounts if you've signed up "
                            "for Connect, which you can learn how to do at "
                            "https://stripe.com/docs/connect.",
                        }
                    },
                    400,
                )
                return
            self._reply(
                {
                    "id": f"acct_test_{n}",
                    "object": "account",
                    "type": params.get("type"),
                    "email": params.get("email"),
                    "charges_enabled": False,
                    "payouts_enabled": False,
                    "details_submitted": False,
                    "metadata": {
                        k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")
                    },
                }
            )
        elif self.path == "/v1/account_links":
            self._reply(
                {
                    "object": "account_link",
                    "created": int(time.time()),
                    "expires_at": int(time.time()) + 300,
                    "url": f"https://connect.stripe.test/setup/e/{params['account']}/{n}",
                }
            )
        elif self.path == "/v1/billing_portal/sessions":
            self._reply(
                {
                    "id": f"bps_{n}",
                    "object": "billing_portal.session",
                    "url": f"https://billing.stripe.test/p/session/{n}",
                }
            )
        else:
            self._reply({"error": {"type": "invalid_request_error", "message": "unknown"}}, 404)

    def log_message(self, *args: object) -> None:
        return None


def _no_such(object_id: str) -> dict[str, Any]:
    """Stripe's answer for an id it does not know."""
    kind = "checkout.session" if object_id.startswith("cs_") else "payment_intent"
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "id",
            "message": f"No such {kind}: '{object_id}'",
        }
    }


async def paid_booking(session: AsyncSession, owner: Member, price: int = 6000) -> Booking:
    service = Service(
        organization_id=owner.organization.id,
        name="Sesión",
        duration_minutes=60,
        price_cents=price,
        currency="eur",
        capacity=1,
        active=True,
    )
    session.add(service)
    await session.flush()
    patient = await make_patient(session, owner.organization, email="paciente@example.org")
    booking = Booking(
        organization_id=owner.organization.id,
        patient_id=patient.id,
        service_id=service.id,
        starts_at=utcnow(),
        ends_at=utcnow(),
        amount_cents=price,
        currency="eur",
    )
    booking.ends_at = booking.starts_at.replace(year=booking.starts_at.year + 1)
    session.add(booking)
    await session.flush()
    return booking


def stripe_event(
    kind: str, obj: dict[str, Any], *, livemode: bool = False, created: int | None = None
) -> dict[str, Any]:
    return {
        "id": f"evt_{next(_ids)}",
        "object": "event",
        "type": kind,
        "livemode": livemode,
        "created": created or int(time.time()),
        "api_version": "2026-01-01",
        "data": {"object": obj},
    }


async def deliver(
    client: AsyncClient, event: dict[str, Any], *, secret: str = WHSEC, timestamp: int | None = None
) -> Response:
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return await client.post(
        "/api/v1/payments/webhook",
        content=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )
