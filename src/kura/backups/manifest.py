"""The manifest sidecar: what a backup contains, signed so that only our own files restore."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

FORMAT = 1


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

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


class ManifestInvalid(Exception):
    """Unreadable, unsigned, or signed with another key: not one of our backups."""


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"kura-backup-manifest-v1", hashlib.sha256).digest()


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign(manifest: Manifest, *, secret_key: str) -> bytes:
    payload = manifest.payload()
    signature = hmac.new(_key(secret_key), _canonical(payload), hashlib.sha256).hexdigest()
    return json.dumps({**payload, "signature": signature}, indent=2, sort_keys=True).encode()


def verify(raw: bytes, *, secret_key: str) -> Manifest:
    try:
        data = json.loads(raw)
        signature = data.pop("signature")
        expected = hmac.new(_key(secret_key), _canonical(data), hashlib.sha256).hexdigest()
        if not isinstance(signature, str) or not hmac.compare_digest(signature, expected):
            raise ManifestInvalid("signature does not match")
        if data.get("format") != FORMAT:
            raise ManifestInvalid("unknown manifest format")
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return Manifest(**data)
    except ManifestInvalid:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestInvalid(f"unreadable manifest ({type(exc).__name__})") from None
