"""How MFA secrets rest in the database: TOTP secrets sealed, recovery codes keyed-hashed.

Both keys derive from SECRET_KEY. The TOTP secret must be read back to check a code, so it is
sealed: HMAC-SHA256 used as a PRF over a random 16-byte nonce gives the keystream, and an
HMAC-SHA256 tag over nonce and ciphertext (encrypt-then-MAC) refuses any altered value.
Recovery codes carry 50 random bits each, so a keyed HMAC-SHA256 is enough to store them.
Rotating SECRET_KEY makes existing enrolments unreadable: those users set MFA up again."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from kura.errors import Conflict

_VERSION = b"v1"
_NONCE = 16
_TAG = 16


class SealedSecretUnreadable(Conflict):
    code = "mfa_secret_unreadable"


def _key(signing_key: str, purpose: bytes) -> bytes:
    return hmac.new(signing_key.encode(), b"kura-mfa:" + purpose, hashlib.sha256).digest()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    return b"".join(
        hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(blocks)
    )[:length]


def seal(signing_key: str, secret: str) -> str:
    """The base32 TOTP secret as stored: `v1.` + base64(nonce | ciphertext | tag)."""
    plain = secret.encode()
    nonce = secrets.token_bytes(_NONCE)
    stream = _keystream(_key(signing_key, b"seal"), nonce, len(plain))
    body = nonce + bytes(a ^ b for a, b in zip(plain, stream, strict=True))
    tag = hmac.new(_key(signing_key, b"tag"), _VERSION + body, hashlib.sha256).digest()[:_TAG]
    return "v1." + base64.urlsafe_b64encode(body + tag).decode()


def unseal(signing_key: str, sealed: str) -> str:
    """The TOTP secret back, or 409 when it was sealed with another SECRET_KEY (or altered)."""
    unreadable = SealedSecretUnreadable(
        "Two-step verification for this account cannot be read (the server key changed). "
        "Ask a platform operator to reset it."
    )
    version, _, encoded = sealed.partition(".")
    try:
        raw = base64.urlsafe_b64decode(encoded.encode())
    except ValueError:
        raise unreadable from None
    body, tag = raw[:-_TAG], raw[-_TAG:]
    expected = hmac.new(_key(signing_key, b"tag"), _VERSION + body, hashlib.sha256).digest()
    if version != "v1" or len(body) <= _NONCE or not hmac.compare_digest(tag, expected[:_TAG]):
        raise unreadable
    nonce, cipher = body[:_NONCE], body[_NONCE:]
    stream = _keystream(_key(signing_key, b"seal"), nonce, len(cipher))
    return bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode()


def new_recovery_code() -> str:
    """Ten base32 characters (50 bits), shown as `xxxxx-xxxxx`."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:10]
    return f"{raw[:5]}-{raw[5:]}"


def normalize_recovery_code(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def recovery_code_hash(signing_key: str, code: str) -> str:
    key = _key(signing_key, b"recovery")
    return hmac.new(key, normalize_recovery_code(code).encode(), hashlib.sha256).hexdigest()
