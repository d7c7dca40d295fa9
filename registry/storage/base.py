"""The BlobStore interface. Blobs are keyed by digest (``sha256:<hex>``), uploads by session id.

Hashing and the decision to accept bytes belong to the services; a store only appends, moves and reads.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path


class OffsetMismatch(Exception):
    def __init__(self, expected: int, actual: int):
        super().__init__(f"upload is at offset {actual}, not {expected}")
        self.expected = expected
        self.actual = actual


class BlobStore(ABC):
    @abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abstractmethod
    def size(self, digest: str) -> int | None:
        """Size in bytes of a committed blob, or None when it is absent."""

    @abstractmethod
    def read(self, digest: str, start: int = 0, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a committed blob from ``start``."""

    def local_path(self, digest: str) -> Path | None:
        """A local file holding the blob, when the backend has one (lets the web tier use sendfile)."""
        return None

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
    def commit(self, upload_id: str, digest: str, size: int) -> None:
        """Move a complete upload into place as blob ``digest``; idempotent when the blob exists.

        The caller has verified the digest while the bytes streamed in; the store re-checks the size.
        """

    @abstractmethod
    def discard(self, upload_id: str) -> None: ...
