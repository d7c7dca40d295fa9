"""The BlobStore interface. Blobs are keyed by digest (``sha256:<hex>``), uploads by session id.

Hashing and the decision to accept bytes belong to the services; a store only appends, moves and reads.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator


class OffsetMismatch(Exception):
    def __init__(self, expected: int, actual: int):
        super().__init__(f"upload is at offset {actual}, not {expected}")
        self.expected = expected
        self.actual = actual


class BlobStore(ABC):
    #: whether clients may move bytes straight to and from the store (presigned URLs, multipart uploads)
    supports_presigning = False

    def presigned_read_url(self, digest: str, expires_s: int) -> str | None:
        """A short-lived URL that serves the blob without the registry, or None: the registry serves it."""
        return None

    @abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abstractmethod
    def size(self, digest: str) -> int | None:
        """Size in bytes of a committed blob, or None when it is absent."""

    @abstractmethod
    def read(self, digest: str, start: int = 0, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a committed blob from ``start``."""

    @abstractmethod
    def upload_offset(self, upload_id: str) -> int:
        """How many bytes of an upload are stored (0 for an upload not begun)."""

    @abstractmethod
    def append(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> int:
        """Append chunks to an upload that is exactly at ``offset``; return the new offset.

        Bytes received before an interruption stay stored, so the upload can resume from them.
        Raises OffsetMismatch when the upload is not at ``offset``.
        """

    @abstractmethod
    def read_upload(self, upload_id: str, chunk_size: int = 1 << 20) -> Iterator[bytes]: ...

    @abstractmethod
    def commit(self, upload_id: str, digest: str, size: int, replace: bool = False) -> None:
        """Move a complete upload into place as blob ``digest``, atomically (readers see the old copy or the new
        one, never a partial file). An upload never appended to is an empty blob.

        The caller has verified the digest while the bytes streamed in; the store re-checks the size. When the
        blob exists with that size the upload is discarded, unless ``replace`` (the caller found the stored copy
        damaged): then the upload takes its place.
        """

    @abstractmethod
    def discard(self, upload_id: str) -> None: ...

    @abstractmethod
    def digests(self) -> Iterator[str]:
        """Every committed blob's digest, one at a time (a walk of the store, not a listing held in memory)."""

    @abstractmethod
    def quarantine(self, digest: str) -> str:
        """Move a committed blob that failed its check out of service, keeping it for inspection; returns where
        it now lies. The blob is then absent (never served) until a verified upload commits it again."""

    # --- garbage collection: a blob is set aside before it is deleted, so a concurrent upload can take it back
    @abstractmethod
    def set_aside(self, digest: str) -> str | None:
        """Move a committed blob out of service, to a place of its own; returns that place (None when the blob is
        absent). Nothing is served from there."""

    @abstractmethod
    def put_back(self, digest: str, place: str) -> None:
        """Return a blob set aside to service, unless a copy was committed meanwhile (then drop the set-aside
        one)."""

    @abstractmethod
    def drop(self, place: str) -> None:
        """Delete a blob set aside, for good."""

    @abstractmethod
    def stale_uploads(self, older_than_s: float) -> Iterator[str]:
        """Ids of uploads whose bytes were last written more than ``older_than_s`` seconds ago."""
