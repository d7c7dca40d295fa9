"""A local content-addressed cache of blobs, so a second pull transfers nothing.

Layout: ``<root>/blobs/sha256/<hex>`` (verified blobs) and ``<root>/partial/<hex>.part`` (downloads in
progress, locked while written, resumed with Range). A cached blob is re-hashed before it is used, so a
damaged or edited cache entry is detected and fetched again.
"""

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from client.hashing import sha256_file


class BlobCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def partial_path(self, digest: str) -> Path:
        return self.root / "partial" / (digest.removeprefix("sha256:") + ".part")

    def verified(self, digest: str, size: int, on_bytes=None) -> Path | None:
        """The cached blob if present and intact; a damaged entry is removed."""
        path = self.blob_path(digest)
        try:
            if path.stat().st_size != size:
                path.unlink()
                return None
        except FileNotFoundError:
            return None
        if sha256_file(path, on_bytes)[0] != digest:
            path.unlink(missing_ok=True)
            return None
        return path

    @contextmanager
    def partial(self, digest: str):
        """Open the partial download of a blob for appending, holding an exclusive lock."""
        path = self.partial_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield path, handle

    def commit(self, digest: str, partial: Path) -> Path:
        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, target)
        return target
