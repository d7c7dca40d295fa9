"""Blobs on the local filesystem. This module alone knows the layout::

    <root>/blobs/sha256/<2 hex>/<64 hex>              committed blobs, read-only
    <root>/uploads/<upload id>                        uploads in progress
    <root>/quarantine/sha256/<64 hex>.<UTC time>      blobs that failed a check, kept for inspection, never served
    <root>/trash/<64 hex>.<UTC time>                  blobs garbage collection is about to delete, never served
"""

import fcntl
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from reproreg.storage.base import BlobStore, OffsetMismatch

HEX = frozenset("0123456789abcdef")


def blobs_folder(root: Path) -> Path:
    return Path(root) / "blobs" / "sha256"


def blob_path(root: Path, digest: str) -> Path:
    """The file of committed blob ``digest`` in the store at ``root``; ValueError for anything but sha256."""
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or not _is_hex64(hexdigest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return blobs_folder(root) / hexdigest[:2] / hexdigest


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path):
        self.root = Path(root)
        self._blobs = blobs_folder(self.root)
        self._uploads = self.root / "uploads"
        self._quarantine = self.root / "quarantine" / "sha256"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)

    def _blob_path(self, digest: str) -> Path:
        return blob_path(self.root, digest)

    def _upload_path(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise ValueError(f"bad upload id {upload_id!r}")
        return self._uploads / upload_id

    def exists(self, digest: str) -> bool:
        return self._blob_path(digest).is_file()

    def size(self, digest: str) -> int | None:
        try:
            return self._blob_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, digest: str, start: int = 0, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with open(self._blob_path(digest), "rb") as handle:
            handle.seek(start)
            while chunk := handle.read(chunk_size):
                yield chunk

    def upload_offset(self, upload_id: str) -> int:
        try:
            return self._upload_path(upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    @contextmanager
    def _locked_upload(self, upload_id: str):
        fd = os.open(self._upload_path(upload_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    def append(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> int:
        with self._locked_upload(upload_id) as fd:
            current = os.fstat(fd).st_size
            if current != offset:
                raise OffsetMismatch(expected=offset, actual=current)
            return current + _write_behind(fd, chunks)

    def read_upload(self, upload_id: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with open(self._upload_path(upload_id), "rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def commit(self, upload_id: str, digest: str, size: int, replace: bool = False) -> None:
        source = self._upload_path(upload_id)
        target = self._blob_path(digest)
        if not replace and target.is_file() and target.stat().st_size == size:
            source.unlink(missing_ok=True)
            return
        if size == 0 and not source.exists():  # an empty file: no byte was ever appended
            source.touch(mode=0o600)
        actual = self.upload_offset(upload_id)
        if actual != size:
            raise ValueError(f"upload {upload_id} holds {actual} bytes, expected {size}")
        with open(source, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(source, 0o444)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)  # the upload is the temporary file: one rename puts it in place

    def discard(self, upload_id: str) -> None:
        self._upload_path(upload_id).unlink(missing_ok=True)

    def digests(self) -> Iterator[str]:
        for prefix in sorted(entry.name for entry in os.scandir(self._blobs) if entry.is_dir()):
            with os.scandir(self._blobs / prefix) as entries:
                for entry in entries:
                    if entry.is_file() and entry.name.startswith(prefix) and _is_hex64(entry.name):
                        yield f"sha256:{entry.name}"

    def quarantine(self, digest: str) -> str:
        """Raises FileNotFoundError when the blob is absent."""
        source = self._blob_path(digest)
        self._quarantine.mkdir(parents=True, exist_ok=True)
        target = self._quarantine / f"{source.name}.{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"
        os.replace(source, target)
        return str(target)

    def set_aside(self, digest: str) -> str | None:
        source = self._blob_path(digest)
        trash = self.root / "trash"
        trash.mkdir(parents=True, exist_ok=True)
        target = trash / f"{source.name}.{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"
        try:
            os.replace(source, target)
        except FileNotFoundError:
            return None
        return str(target)

    def put_back(self, digest: str, place: str) -> None:
        target = self._blob_path(digest)
        try:
            os.link(place, target)  # fails when a copy was committed meanwhile: that one stays
        except FileExistsError:
            pass
        os.unlink(place)

    def drop(self, place: str) -> None:
        if Path(place).parent != self.root / "trash":
            raise ValueError(f"not a blob set aside: {place}")
        Path(place).unlink(missing_ok=True)

    def stale_uploads(self, older_than_s: float) -> Iterator[str]:
        cutoff = time.time() - older_than_s
        with os.scandir(self._uploads) as entries:
            for entry in entries:
                if entry.is_file() and entry.name.isalnum() and entry.stat().st_mtime < cutoff:
                    yield entry.name


WRITE_BEHIND = 4  # chunks waiting for the writing thread, at most


def _write_all(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view):]


def _write_behind(fd: int, chunks: Iterable[bytes]) -> int:
    """Write ``chunks`` to ``fd`` on a second thread, so the next chunk is received (and hashed) while this one is
    written; memory stays at WRITE_BEHIND chunks. Every chunk taken from ``chunks`` is written before this returns
    or raises (an error while taking one, e.g. the client going away, comes after the ones before it are on
    disk); a write error is raised once the chunks taken are drained. Returns the bytes written."""
    pending: queue.Queue = queue.Queue(maxsize=WRITE_BEHIND)
    failed: list[BaseException] = []

    def writer() -> None:
        while (chunk := pending.get()) is not None:
            if not failed:
                try:
                    _write_all(fd, chunk)
                except BaseException as err:  # handed to the caller's thread
                    failed.append(err)

    thread = threading.Thread(target=writer, name="blob-writer", daemon=True)
    thread.start()
    taken = 0
    try:
        for chunk in chunks:
            if failed:
                break
            pending.put(chunk)
            taken += len(chunk)
    finally:
        pending.put(None)
        thread.join()
    if failed:
        raise failed[0]
    return taken


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and HEX.issuperset(text)
