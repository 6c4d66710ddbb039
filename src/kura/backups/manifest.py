"""The manifest sidecar: what a backup contains, signed so that only our own files restore.

Every manifest key is derived the same way from a secret's value — BACKUP_SIGNING_KEY, a
previous key, or SECRET_KEY — so any value that ever signed a backup can be listed in
BACKUP_SIGNING_KEYS_PREVIOUS, an old SECRET_KEY included. A manifest records the id of the
key that signed it (never the key), so a backup signed with a key no longer configured can
say which one it needs.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from kura.config import Settings, secret_value
from kura.errors import ConfigError

FORMAT = 1
_LABEL = b"kura-backup-manifest-v1"
_KEY_ID = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True)
class Manifest:
    filename: str
    kind: str  # manual | scheduled | pre-restore
    created_at: datetime
    size_bytes: int
    sha256: str
    app_version: str
    schema_revision: str | None
    pg_dump_version: str
    server_version: str
    database: str
    compression_level: int
    tables: dict[str, int] = field(default_factory=dict)
    format: int = FORMAT
    # The id of the key that signed it; None before it is signed, and in manifests written
    # before key ids were recorded (all signed with the SECRET_KEY of the time).
    key_id: str | None = None

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


class ManifestInvalid(Exception):
    """Unreadable, unsigned, or signed with another key: not one of our backups."""


class SignatureRejected(ManifestInvalid):
    """Well-formed, but no configured key made its signature. `key_id` is the key it names."""

    def __init__(self, message: str, key_id: str | None) -> None:
        super().__init__(message)
        self.key_id = key_id


def key_id(secret: str) -> str:
    """A key's public name: the first 8 hex digits of the sha256 of the secret's value
    (`printf %s "$VALUE" | sha256sum | cut -c1-8` gives the same)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@dataclass(frozen=True, repr=False)
class SigningKey:
    id: str
    _mac_key: bytes

    @classmethod
    def of(cls, secret: str) -> SigningKey:
        mac_key = hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()
        return cls(key_id(secret), mac_key)

    def signature(self, canonical: bytes) -> str:
        return hmac.new(self._mac_key, canonical, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never the key
        return f"SigningKey(id={self.id!r})"


@dataclass(frozen=True)
class Keyring:
    """`current` signs; it and `previous` (in order) are accepted when verifying."""

    current: SigningKey
    previous: tuple[SigningKey, ...] = ()

    @classmethod
    def of(cls, current: str, previous: Iterable[str] = ()) -> Keyring:
        signer = SigningKey.of(current)
        seen = {current}  # by value: two keys may share an id (it is only 32 bits)
        kept: list[SigningKey] = []
        for secret in previous:
            if secret not in seen:
                seen.add(secret)
                kept.append(SigningKey.of(secret))
        return cls(signer, tuple(kept))

    @property
    def accepted(self) -> tuple[SigningKey, ...]:
        return (self.current, *self.previous)


def keyring(settings: Settings) -> Keyring:
    """The configured keys: BACKUP_SIGNING_KEY signs (unset: the SECRET_KEY-derived key, exactly
    as before it existed, so a laptop needs nothing new); BACKUP_SIGNING_KEYS_PREVIOUS verify.

    The SECRET_KEY-derived key is always accepted for verification too: it was the only key
    before BACKUP_SIGNING_KEY, so setting BACKUP_SIGNING_KEY for the first time keeps every
    older backup listed without copying SECRET_KEY into the previous list. Accepting it trusts
    no one new: whoever holds SECRET_KEY can already forge any session. After SECRET_KEY is
    rotated, backups signed with its old value need that value in the previous list.
    """
    backup_key = secret_value(settings.backup_signing_key)
    previous = [secret.get_secret_value() for secret in settings.backup_signing_keys_previous]
    if backup_key is None:
        return Keyring.of(settings.signing_key.get_secret_value(), previous)
    with contextlib.suppress(ConfigError):  # production without SECRET_KEY (refused at start)
        previous.append(settings.signing_key.get_secret_value())
    return Keyring.of(backup_key, previous)


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign(manifest: Manifest, key: SigningKey) -> bytes:
    payload = {**manifest.payload(), "key_id": key.id}
    signature = key.signature(_canonical(payload))
    return json.dumps({**payload, "signature": signature}, indent=2, sort_keys=True).encode()


def verify(raw: bytes, keys: Keyring) -> Manifest:
    try:
        data = json.loads(raw)
        signature = data.pop("signature")
        if not isinstance(signature, str):
            raise ManifestInvalid("unsigned manifest")
        canonical = _canonical(data)  # the key id, when present, is signed too
        if not any(hmac.compare_digest(signature, k.signature(canonical)) for k in keys.accepted):
            raise _unknown_key(data.get("key_id"), keys)
        if data.get("format") != FORMAT:
            raise ManifestInvalid("unknown manifest format")
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return Manifest(**data)
    except ManifestInvalid:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestInvalid(f"unreadable manifest ({type(exc).__name__})") from None


def _unknown_key(claimed: object, keys: Keyring) -> SignatureRejected:
    if not isinstance(claimed, str) or not _KEY_ID.fullmatch(claimed):
        # Written before key ids were recorded: signed with the SECRET_KEY of the time.
        return SignatureRejected(
            "its signature matches no configured key (it records no key id: it was signed "
            "with the SECRET_KEY of its time; add that value to BACKUP_SIGNING_KEYS_PREVIOUS)",
            None,
        )
    if claimed in {k.id for k in keys.accepted}:
        return SignatureRejected(
            f"its signature does not match key id {claimed}: the manifest was changed after "
            "it was signed",
            claimed,
        )
    return SignatureRejected(
        f"signed with key id {claimed}, which is not configured (set "
        "BACKUP_SIGNING_KEYS_PREVIOUS to include that key)",
        claimed,
    )
