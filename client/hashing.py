"""Streaming SHA-256: one pass, a fixed buffer, memory flat whatever the file size."""

import hashlib
from collections.abc import Callable
from pathlib import Path

CHUNK_SIZE = 1 << 20


def sha256_file(path: Path, on_bytes: Callable[[int], object] | None = None) -> tuple[str, int]:
    """Return (``sha256:<hex>``, size) of a file, reporting progress through ``on_bytes``."""
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
            size += count
            if on_bytes:
                on_bytes(count)
    return "sha256:" + hasher.hexdigest(), size

