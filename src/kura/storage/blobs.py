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
from typing import Any, BinaryIO, Protocol

CHUNK = 1024 * 1024
# A resumable upload sends (and holds in memory) this much at a time: a multiple of 256 KiB.
UPLOAD_CHUNK = 8 * 1024 * 1024


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
    def upload(self, name: str) -> contextlib.AbstractAsyncContextManager[BinaryIO]:
        """A writer (blocking: write from a worker thread); the blob appears, whole, only
        when the block exits without an error — nothing of it otherwise."""
        ...

    async def put_bytes(self, name: str, data: bytes) -> None: ...
    async def read_bytes(self, name: str) -> bytes: ...
    def open_read(self, name: str) -> BinaryIO:
        """A blocking reader (read from a worker thread); BlobNotFound if missing."""
        ...

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

    def _open_temporary(self) -> tuple[BinaryIO, Path]:
        # Blobs are backups and briefing audio: readable by this account only (0700/0600).
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.directory / f".tmp-{uuid.uuid4().hex}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb"), temporary

    def _commit(self, handle: BinaryIO, temporary: Path, name: str) -> None:
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        temporary.replace(self._path(name))
        _fsync_dir(self.directory)

    @contextlib.asynccontextmanager
    async def upload(self, name: str) -> AsyncIterator[BinaryIO]:
        """Written to a hidden temporary name, fsync'd, then renamed into place."""
        self._path(name)  # refuse a bad name before writing anything
        handle, temporary = await asyncio.to_thread(self._open_temporary)
        try:
            yield handle
            await asyncio.to_thread(self._commit, handle, temporary, name)
        finally:
            handle.close()
            temporary.unlink(missing_ok=True)

    async def put_bytes(self, name: str, data: bytes) -> None:
        async with self.upload(name) as handle:
            await asyncio.to_thread(handle.write, data)

    async def read_bytes(self, name: str) -> bytes:
        path = self._path(name)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(name) from None

    def open_read(self, name: str) -> BinaryIO:
        try:
            return self._path(name).open("rb")
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

    @contextlib.asynccontextmanager
    async def upload(self, name: str) -> AsyncIterator[BinaryIO]:
        """A resumable upload, UPLOAD_CHUNK at a time (memory stays flat whatever the size);
        the object appears when it is finalised. On an error the upload is cancelled."""
        writer = self._blob(name).open("wb", chunk_size=UPLOAD_CHUNK, ignore_flush=True)
        try:
            yield writer
        except BaseException:
            with contextlib.suppress(Exception):  # an abandoned session expires on its own
                await asyncio.to_thread(writer.terminate)
            raise
        await asyncio.to_thread(writer.close)

    async def put_bytes(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self._blob(name).upload_from_string, data)

    async def read_bytes(self, name: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            data: bytes = await asyncio.to_thread(self._blob(name).download_as_bytes)
        except NotFound:
            raise BlobNotFound(name) from None
        return data

    def open_read(self, name: str) -> BinaryIO:
        from google.api_core.exceptions import NotFound

        blob = self._blob(name)
        try:
            blob.reload()  # pins the generation: a reader never mixes two versions
        except NotFound:
            raise BlobNotFound(name) from None
        reader: BinaryIO = blob.open("rb", chunk_size=CHUNK)
        return reader

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
