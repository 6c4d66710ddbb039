"""`kura verify`: the seed's post-deployment checklist, run against a live server.

Each check prints one line; the exit status is 0 only when every check passed. The checks
use a throwaway account (deleted at the end) and never print a secret or a token.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from kura import __version__

SKIPPABLE = ("payments", "briefing audio", "whatsapp", "monitoring")


@dataclass
class Check:
    name: str
    ok: bool  # never true for a skipped check: skipped is not passed
    detail: str
    skipped: bool = False


@dataclass
class Verifier:
    base_url: str
    expect_live: bool = False
    require_sentry: bool = False
    twilio_auth_token: str | None = None
    whatsapp_number: str | None = None
    operator_email: str | None = None
    operator_password: str | None = None
    operator_totp_secret: str | None = None  # the operator's authenticator key (base32)
    skip: frozenset[str] = frozenset()
    results: list[Check] = field(default_factory=list)
    _token: str | None = None
    _operator: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=60)

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def run(self) -> list[Check]:
        steps: list[tuple[str, Callable[[], str]]] = [
            ("health", self.health),
            ("auth", self.auth),
            ("payments", self.payments),
            ("briefing audio", self.briefing_audio),
            ("whatsapp", self.whatsapp),
            ("monitoring", self.monitoring),
        ]
        try:
            for name, step in steps:
                if name in self.skip:
                    self.results.append(Check(name, False, "not verified (--skip)", skipped=True))
                    continue
                try:
                    self.results.append(Check(name, True, step()))
                except Exception as exc:  # every failure is a result line, never a traceback
                    self.results.append(Check(name, False, _reason(exc)))
        finally:
            self.results.append(self._cleanup())
            self.client.close()
        return self.results

    def health(self) -> str:
        body = self.client.get("/health").raise_for_status().json()
        if body.get("status") != "healthy":
            raise AssertionError(f"status is {body.get('status')!r}")
        ready = self.client.get("/health/ready")
        if ready.status_code != 200:
            raise AssertionError("database not ready")
        return f"healthy, version {body.get('version')} (verifier {__version__})"

    def auth(self) -> str:
        self._email = f"verify+{secrets.token_hex(6)}@example.org"
        self._password = secrets.token_urlsafe(18)
        registered = self.client.post(
            "/api/v1/auth/register",
            json={
                "email": self._email,
                "password": self._password,
                "full_name": "Verificación",
                "org_name": "KURA verify (temporary)",
            },
        )
        _expect(registered, 201, "register")
        login = self.client.post(
            "/api/v1/auth/login", json={"email": self._email, "password": self._password}
        )
        _expect(login, 200, "login")
        token = login.json()["access_token"]
        me = self.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        _expect(me, 200, "me")
        _expect(
            self.client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}),
            200,
            "logout",
        )
        if (
            self.client.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            != 401
        ):
            raise AssertionError("the token still worked after logout")
        self._token = registered.json()["access_token"]
        self.client.cookies.clear()
        confirmed = self._confirm_email(registered.json()["user"]["id"])
        return f"register, login, logout (token revoked) ok; {confirmed}"

    def _confirm_email(self, user_id: str) -> str:
        """A new account cannot add patients until its email is confirmed; the throwaway
        address has no mailbox, so the operator confirms it (audited)."""
        if not self.operator_email or not self.operator_password:
            return "email not confirmed (no operator credentials): patient checks will fail"
        headers = self._operator_headers()
        confirmed = self.client.post(f"/api/v1/admin/users/{user_id}/verify-email", headers=headers)
        _expect(confirmed, 200, "operator confirms the email")
        return "email confirmed by the operator"

    def _operator_headers(self) -> dict[str, str]:
        """One operator session per run, past two-step verification (a code is accepted once,
        so the run signs in once and signs out at the end)."""
        if self._operator is not None:
            return self._operator
        login = self.client.post(
            "/api/v1/auth/login",
            json={"email": self.operator_email, "password": self.operator_password},
        )
        self.client.cookies.clear()
        _expect(login, 200, "operator login")
        token = login.json()["access_token"]
        if login.json().get("mfa_required"):
            token = self._operator_code(token)
        self._operator = {"Authorization": f"Bearer {token}"}
        return self._operator

    def _operator_code(self, pending: str) -> str:
        import pyotp

        if not self.operator_totp_secret:
            raise AssertionError(
                "the operator account uses two-step verification: set "
                "KURA_VERIFY_OPERATOR_TOTP_SECRET to its authenticator key"
            )
        totp = pyotp.TOTP(self.operator_totp_secret)
        for attempt in range(2):
            verified = self.client.post(
                "/api/v1/auth/mfa/verify",
                headers={"Authorization": f"Bearer {pending}"},
                json={"code": totp.now()},
            )
            self.client.cookies.clear()
            if verified.status_code == 200:
                return str(verified.json()["access_token"])
            if attempt == 0 and "already been used" in verified.text:
                time.sleep(totp.interval - time.time() % totp.interval + 1)  # the next code
                continue
            _expect(verified, 200, "operator two-step verification")
        raise AssertionError("operator two-step verification failed")

    def payments(self) -> str:
        status = self.client.get("/api/v1/billing/status", headers=self._auth)
        _expect(status, 200, "billing status")
        mode = status.json()["stripe_mode"]
        if mode == "not configured":
            raise AssertionError("Stripe is not configured")
        if self.expect_live and mode != "live":
            raise AssertionError(f"Stripe is in {mode.upper()} mode, LIVE expected")
        checkout = self.client.post(
            "/api/v1/billing/checkout-session", headers=self._auth, json={"target_tier": "PRO"}
        )
        _expect(checkout, 200, "checkout")
        return f"Stripe {mode.upper()}, checkout session created"

    def briefing_audio(self) -> str:
        briefing = self.client.get("/api/v1/insights/daily-briefing", headers=self._auth)
        _expect(briefing, 200, "briefing")
        body = briefing.json()
        if not body.get("audio_url"):
            raise AssertionError("the briefing has no audio")
        audio = self.client.get(body["audio_url"], headers=self._auth)
        _expect(audio, 200, "audio")
        if not _looks_like_mp3(audio.content):
            raise AssertionError("the audio is not an MP3 stream")
        methods = body["generation_method"]
        return f"{len(audio.content)} bytes of MP3 ({methods['script']}, {methods['audio']})"

    def whatsapp(self) -> str:
        if not self.twilio_auth_token or not self.whatsapp_number:
            raise AssertionError("needs TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_NUMBER")
        phone = f"+346{random.randint(10_000_000, 99_999_999)}"  # noqa: S311 - a test number
        patient = self.client.post(
            "/api/v1/patients",
            headers=self._auth,
            json={
                "full_name": "Paciente de verificación",
                "phone": phone,
                "monitoring_consent": True,
            },
        )
        _expect(patient, 201, "patient")
        enrollment = self.client.post(
            f"/api/v1/patients/{patient.json()['id']}/monitoring/enrollment", headers=self._auth
        )
        _expect(enrollment, 201, "enrollment code")
        # The patient confirms from their phone (AletheIA answers), then writes (stored).
        reply = self._signed_whatsapp(phone, enrollment.json()["code"])
        _expect(reply, 200, "webhook")
        if "<Message>" not in reply.text:
            raise AssertionError("AletheIA did not reply")
        patient_id = patient.json()["id"]
        status = self.client.get(f"/api/v1/patients/{patient_id}", headers=self._auth)
        if status.json().get("monitoring_status") != "active":
            raise AssertionError("the enrollment code did not activate monitoring")
        text = "Hola, esto es un mensaje de verificación."
        _expect(self._signed_whatsapp(phone, text), 200, "webhook")
        stored = self.client.get(
            f"/api/v1/patients/{patient_id}/monitoring/messages", headers=self._auth
        )
        _expect(stored, 200, "messages")
        if text not in [m["body"] for m in stored.json()["items"]]:
            raise AssertionError("the enrolled patient's message was not stored")
        return "patient enrolled from their phone, answered by AletheIA; message stored"

    def _signed_whatsapp(self, phone: str, body: str) -> httpx.Response:
        from twilio.request_validator import RequestValidator

        path = "/api/v1/webhooks/whatsapp"
        params = {
            "MessageSid": f"SMverify{secrets.token_hex(12)}",
            "From": f"whatsapp:{phone}",
            "To": f"whatsapp:{self.whatsapp_number}",
            "Body": body,
            "NumMedia": "0",
        }
        signature = RequestValidator(self.twilio_auth_token or "").compute_signature(
            f"{self.base_url.rstrip('/')}{path}", params
        )
        return self.client.post(
            path,
            content=urlencode(params),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )

    def monitoring(self) -> str:
        if not self.operator_email or not self.operator_password:
            raise AssertionError(
                "needs KURA_VERIFY_OPERATOR_EMAIL and KURA_VERIFY_OPERATOR_PASSWORD"
            )
        headers = self._operator_headers()
        status = self.client.get("/api/v1/admin/status", headers=headers)
        _expect(status, 200, "operator status")
        body = status.json()
        if not body["job_queue"]["healthy"]:
            raise AssertionError(f"job queue unhealthy: {body['job_queue']}")
        if self.require_sentry and not body["sentry"]:
            raise AssertionError("Sentry is not configured")
        return (
            f"schema {body['migration_revision']}, workers {body['job_queue']['workers_alive']}, "
            f"Sentry {'on' if body['sentry'] else 'off'}, newest backup "
            f"{body['last_backup_age_hours']} h old"
        )

    def _cleanup(self) -> Check:
        if self._operator is not None:
            self.client.post("/api/v1/auth/logout", headers=self._operator)
            self.client.cookies.clear()
        if not self._token:
            return Check("cleanup", True, "nothing to remove")
        deleted = self.client.request(
            "DELETE", "/api/v1/auth/me", headers=self._auth, json={"password": self._password}
        )
        ok = deleted.status_code == 204
        return Check(
            "cleanup", ok, "temporary account removed" if ok else f"HTTP {deleted.status_code}"
        )


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        try:
            detail = response.json().get("detail", "")
        except ValueError:
            detail = ""
        raise AssertionError(f"{what}: HTTP {response.status_code} {detail}".strip())


def _looks_like_mp3(data: bytes) -> bool:
    if len(data) < 1024:
        return False
    return data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: cannot reach the server"
    return str(exc) or type(exc).__name__


def passed(results: list[Check]) -> bool:
    """Every check that ran passed (skipped ones are reported as such, not as passes)."""
    return all(check.ok or check.skipped for check in results)


def from_environment(
    base_url: str, *, expect_live: bool, require_sentry: bool, skip: frozenset[str] = frozenset()
) -> Verifier:
    return Verifier(
        base_url=base_url,
        expect_live=expect_live,
        require_sentry=require_sentry,
        skip=skip,
        twilio_auth_token=os.environ.get("TWILIO_AUTH_TOKEN"),
        whatsapp_number=os.environ.get("TWILIO_WHATSAPP_NUMBER"),
        operator_email=os.environ.get("KURA_VERIFY_OPERATOR_EMAIL"),
        operator_password=os.environ.get("KURA_VERIFY_OPERATOR_PASSWORD"),
        operator_totp_secret=os.environ.get("KURA_VERIFY_OPERATOR_TOTP_SECRET"),
    )


def as_json(results: list[Check]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
