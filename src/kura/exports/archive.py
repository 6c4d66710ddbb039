"""The ZIP being written (blocking: every call runs in a worker thread) and its JSON encoding.

Entries are written one after another straight into the blob store's writer; the writer is
wrapped as unseekable, so zipfile uses data descriptors and never seeks back (a GCS upload
cannot), and nothing but the current chunk is held in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
import zipfile
from datetime import date, datetime
from typing import IO, Any, BinaryIO

FORMAT_VERSION = 1


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def encode(value: Any) -> bytes:
    """Stable, readable UTF-8 JSON (the original text, every character kept)."""
    return json.dumps(value, default=_default, ensure_ascii=False, sort_keys=True).encode()


class _Unseekable:
    """Only write/flush: zipfile then streams (data descriptors) instead of seeking back."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.written = 0
        self.abandoned = False

    def write(self, data: bytes) -> int:
        if self.abandoned:  # the upload is being cancelled: nothing more reaches it
            return len(data)
        self.written += len(data)
        return self._sink.write(data)

    def flush(self) -> None:
        self._sink.flush()

    def close(self) -> None:
        """The store's upload() closes (and publishes) the real writer, not the ZIP."""


class ExportArchive:
    """A ZIP of parts; remembers each file's sha256 and size for the manifest."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = _Unseekable(sink)
        self._zip = zipfile.ZipFile(
            self._sink,
            mode="w",
            compression=zipfile.ZIP_DEFLATED,
            compresslevel=6,
        )
        self._entry: IO[bytes] | None = None
        self._path = ""
        self._hash = hashlib.sha256()
        self._size = 0
        self.files: dict[str, dict[str, Any]] = {}

    def open(self, path: str) -> None:
        if self._entry is not None:
            raise RuntimeError("an entry is still open")
        self._entry = self._zip.open(path, mode="w", force_zip64=True)
        self._path, self._hash, self._size = path, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        assert self._entry is not None
        self._entry.write(data)
        self._hash.update(data)
        self._size += len(data)

    def close_entry(self) -> None:
        assert self._entry is not None
        self._entry.close()
        self._entry = None
        self.files[self._path] = {"sha256": self._hash.hexdigest(), "bytes": self._size}

    def put(self, path: str, data: bytes) -> None:
        self.open(path)
        self.write(data)
        self.close_entry()

    def abandon(self) -> None:
        """A failed build: close the ZIP without writing anything more to the store."""
        self._sink.abandoned = True
        with contextlib.suppress(Exception):
            if self._entry is not None:
                self._entry.close()
            self._zip.close()

    def finish(self) -> int:
        """Write the central directory; the archive's size in bytes."""
        self._zip.close()
        return self._sink.written
