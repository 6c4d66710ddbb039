"""The blob-store interface and its two implementations.

Cloud Run's disk is in memory and per instance, so production keeps blobs in a GCS bucket;
a laptop keeps them in a directory. Names are flat (`backup_...sql.gz`), validated by callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BlobInfo:
    name: str
    size: int
    updated_at: datetime


class BlobNotFound(Exception):
    pass


class BlobStore(Protocol):
    location: str

    async def list(self, prefix: str = "") -> list[BlobInfo]: ...
    async def put_file(self, name: str, source: Path) -> None: ...
    async def put_bytes(self, name: str, data: bytes) -> None: ...
    async def read_bytes(self, name: str) -> bytes: ...
    async def fetch(self, name: str, destination: Path) -> None: ...
    def stream(self, name: str) -> AsyncIterator[bytes]: ...
    async def delete(self, name: str) -> None: ...


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """A directory. Writes go to a hidden temporary name, are fsync'd, then renamed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.location = f"local:{directory}"

    def _path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
            raise BlobNotFound(name)
        return self.directory / name

    async def list(self, prefix: str = "") -> list[BlobInfo]:
        def scan() -> list[BlobInfo]:
            if not self.directory.is_dir():
                return []
            found = []
            for entry in os.scandir(self.directory):
                # Regular files only: a symlink planted in the store is never served.
                if entry.name.startswith(prefix) and entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    found.append(
                        BlobInfo(
                            entry.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)
                        )
                    )
            return found

        return await asyncio.to_thread(scan)

    def _publish(self, name: str, write: Any) -> None:
        # Blobs are backups and briefing audio: readable by this account only (0700/0600).
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.directory / f".tmp-{uuid.uuid4().hex}"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(self._path(name))
            _fsync_dir(self.directory)
        finally:
            temporary.unlink(missing_ok=True)

    async def put_file(self, name: str, source: Path) -> None:
        def copy(handle: Any) -> None:
            with source.open("rb") as src:
                while chunk := src.read(CHUNK):
                    handle.write(chunk)

        await asyncio.to_thread(self._publish, name, copy)

    async def put_bytes(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self._publish, name, lambda handle: handle.write(data))

    async def read_bytes(self, name: str) -> bytes:
        path = self._path(name)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(name) from None

    async def fetch(self, name: str, destination: Path) -> None:
        def copy() -> None:
            fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with self._path(name).open("rb") as src, os.fdopen(fd, "wb") as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)

        try:
            await asyncio.to_thread(copy)
        except FileNotFoundError:
            raise BlobNotFound(name) from None

    async def stream(self, name: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(self._path(name).open, "rb")
        except FileNotFoundError:
            raise BlobNotFound(name) from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    def local_path(self, name: str) -> Path:
        """The file itself (local store only): restore reads it in place, no copy."""
        return self._path(name)

    async def delete(self, name: str) -> None:
        def remove() -> None:
            self._path(name).unlink(missing_ok=True)
            _fsync_dir(self.directory)

        await asyncio.to_thread(remove)


class GCSBlobStore:
    """A Google Cloud Storage bucket (google-cloud-storage; its sync calls run in threads)."""

    def __init__(self, bucket: str, *, prefix: str = "", client: Any = None) -> None:
        from google.cloud import storage

        self._client = client or storage.Client()
        self._bucket = self._client.bucket(bucket)
        self._prefix = prefix
        self.location = f"gs://{bucket}/{prefix}"

    def _blob(self, name: str) -> Any:
        return self._bucket.blob(self._prefix + name)

    async def list(self, prefix: str = "") -> list[BlobInfo]:
        def scan() -> list[BlobInfo]:
            blobs = self._client.list_blobs(self._bucket, prefix=self._prefix + prefix)
            return [
                BlobInfo(b.name[len(self._prefix) :], int(b.size or 0), b.updated)
                for b in blobs
                if "/" not in b.name[len(self._prefix) :]
            ]

        return await asyncio.to_thread(scan)

    async def put_file(self, name: str, source: Path) -> None:
        # Objects appear atomically when the upload completes: no temporary name needed.
        await asyncio.to_thread(self._blob(name).upload_from_filename, str(source))

    async def put_bytes(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self._blob(name).upload_from_string, data)

    async def read_bytes(self, name: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            data: bytes = await asyncio.to_thread(self._blob(name).download_as_bytes)
        except NotFound:
            raise BlobNotFound(name) from None
        return data

    async def fetch(self, name: str, destination: Path) -> None:
        from google.api_core.exceptions import NotFound

        try:
            await asyncio.to_thread(self._blob(name).download_to_filename, str(destination))
        except NotFound:
            raise BlobNotFound(name) from None

    async def stream(self, name: str) -> AsyncIterator[bytes]:
        from google.api_core.exceptions import NotFound

        try:
            handle = await asyncio.to_thread(self._blob(name).open, "rb", chunk_size=CHUNK)
        except NotFound:
            raise BlobNotFound(name) from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, name: str) -> None:
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            await asyncio.to_thread(self._blob(name).delete)
