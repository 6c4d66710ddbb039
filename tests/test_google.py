"""Google sign-in through google-auth's real verification, against a local certificate endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from httpx import ASGITransport, AsyncClient

from kura.app import create_app
from kura.config import Settings
from kura.db.engine import Database

CLIENT_ID = "kura-test.apps.googleusercontent.com"
KID = "test-key-1"


@pytest.fixture(scope="module")
def google_keys() -> Iterator[tuple[rsa.RSAPrivateKey, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kura-test-google")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()

    class Certs(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({KID: pem}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Certs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_address[1]}/oauth2/v1/certs"
    server.shutdown()


def _id_token(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": CLIENT_ID,
        "sub": "1098765432101234567890",
        "email": "lucia@example.org",
        "email_verified": True,
        "name": "Lucía Pérez",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


@pytest.fixture
async def google_client(
    settings: Settings, database: Database, google_keys: tuple[rsa.RSAPrivateKey, str]
) -> AsyncIterator[AsyncClient]:
    configured = settings.model_copy(
        update={"google_client_id": CLIENT_ID, "google_certs_url": google_keys[1]}
    )
    app = create_app(configured, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
    ):
        yield client


async def test_a_verified_google_user_is_signed_up_then_signed_in(
    google_client: AsyncClient, google_keys: tuple[rsa.RSAPrivateKey, str]
) -> None:
    token = _id_token(google_keys[0])
    first = await google_client.post("/api/v1/auth/oauth/google", json={"id_token": token})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["user"]["email"] == "lucia@example.org"
    assert body["user"]["role"] == "OWNER"
    again = await google_client.post("/api/v1/auth/oauth/google", json={"id_token": token})
    assert again.json()["user"]["id"] == body["user"]["id"]


async def test_google_links_to_an_existing_password_account(
    google_client: AsyncClient, google_keys: tuple[rsa.RSAPrivateKey, str]
) -> None:
    registered = await google_client.post(
        "/api/v1/auth/register",
        json={
            "email": "lucia@example.org",
            "password": "una-clave-muy-larga-42",
            "full_name": "Lucía",
            "org_name": "Consulta Lucía",
        },
    )
    google = await google_client.post(
        "/api/v1/auth/oauth/google", json={"id_token": _id_token(google_keys[0])}
    )
    assert google.status_code == 200
    assert google.json()["user"]["id"] == registered.json()["user"]["id"]
    other_sub = _id_token(google_keys[0], sub="555")
    hijack = await google_client.post("/api/v1/auth/oauth/google", json={"id_token": other_sub})
    assert hijack.status_code == 403


@pytest.mark.parametrize(
    "overrides",
    [
        {"email_verified": False},
        {"aud": "someone-else.apps.googleusercontent.com"},
        {"iss": "https://evil.example"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
)
async def test_unverified_or_foreign_google_tokens_are_refused(
    google_client: AsyncClient,
    google_keys: tuple[rsa.RSAPrivateKey, str],
    overrides: dict[str, Any],
) -> None:
    response = await google_client.post(
        "/api/v1/auth/oauth/google", json={"id_token": _id_token(google_keys[0], **overrides)}
    )
    assert response.status_code == 401, response.text


async def test_a_token_signed_by_another_key_is_refused(google_client: AsyncClient) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = await google_client.post(
        "/api/v1/auth/oauth/google", json={"id_token": _id_token(stranger)}
    )
    assert response.status_code == 401


async def test_google_sign_in_without_configuration_is_503(client: AsyncClient) -> None:
    response = await client.post("/api/v1/auth/oauth/google", json={"id_token": "x" * 40})
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"


async def test_a_pre_registered_account_is_taken_over_by_the_real_owner(
    google_client: AsyncClient, google_keys: tuple[rsa.RSAPrivateKey, str]
) -> None:
    """An attacker registers the victim's address; the victim then signs in with Google."""
    password = "clave-del-atacante-2026"
    attacker = await google_client.post(
        "/api/v1/auth/register",
        json={
            "email": "lucia@example.org",
            "password": password,
            "full_name": "Lucía",
            "org_name": "Consulta Lucía",
        },
    )
    assert attacker.status_code == 201
    assert attacker.json()["user"]["email_verified_at"] is None
    attacker_token = {"Authorization": f"Bearer {attacker.json()['access_token']}"}
    # Unverified: cannot hold clinical data or send invitations from the platform.
    patient = await google_client.post(
        "/api/v1/patients", headers=attacker_token, json={"full_name": "P"}
    )
    assert patient.status_code == 403 and patient.json()["error"] == "email_not_verified"
    google_client.cookies.clear()
    victim = await google_client.post(
        "/api/v1/auth/oauth/google", json={"id_token": _id_token(google_keys[0])}
    )
    assert victim.status_code == 200
    assert victim.json()["user"]["email_verified_at"] is not None
    google_client.cookies.clear()
    # The attacker's session and password are gone.
    assert (await google_client.get("/api/v1/auth/me", headers=attacker_token)).status_code == 401
    relogin = await google_client.post(
        "/api/v1/auth/login", json={"email": "lucia@example.org", "password": password}
    )
    assert relogin.status_code == 401
