"""A local content-addressed cache of blobs, so a second pull transfers nothing.

Layout: ``<root>/blobs/sha256/<hex>`` (verified blobs, read-only files) and ``<root>/partial/<hex>.part``
(downloads in progress, locked while written, resumed with Range).

Pulled files are copies of the entries, never links to them, so editing a pulled file cannot change the cache.
The cache itself is never trusted: an entry is checked for its size when it is looked up, and its bytes are
hashed as they are copied out (see ``transfer.place_file``); an entry that does not match (damaged on disk, or
edited by hand) is removed and downloaded again. The one hash pass an entry costs is the read of the copy.
"""

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


class BlobCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def partial_path(self, digest: str) -> Path:
        return self.root / "partial" / (digest.removeprefix("sha256:") + ".part")

    def lookup(self, digest: str, size: int) -> Path | None:
        """The cached blob if present with the right size (its bytes are checked when copied out); an entry of
        the wrong size is removed."""
        path = self.blob_path(digest)
        try:
            if path.stat().st_size == size:
                return path
        except FileNotFoundError:
            return None
        self.evict(digest)
        return None

    def evict(self, digest: str) -> None:
        """Remove an entry found damaged."""
        self.blob_path(digest).unlink(missing_ok=True)

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
        os.chmod(partial, 0o444)  # an entry is not meant to be edited (the bytes are checked anyway)
        os.replace(partial, target)
        return target
