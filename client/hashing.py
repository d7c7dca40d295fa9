"""Streaming SHA-256: one pass, a fixed buffer, memory flat whatever the file size."""

import hashlib
from collections.abc import Callable
from pathlib import Path

from reproreg_schemas.digests import FINGERPRINT_EDGE, fingerprint

CHUNK_SIZE = 1 << 20


def sha256_file(path: Path, on_bytes: Callable[[int], object] | None = None,
                size_hint: int | None = None) -> tuple[str, int]:
    """Return (``sha256:<hex>``, size) of a file, reporting progress through ``on_bytes``.

    ``size_hint`` (the size the file had when listed) only sizes the read buffer, so that hashing thousands of
    small files does not allocate a megabyte for each; the size returned is what was read."""
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE if size_hint is None else max(4096, min(CHUNK_SIZE, size_hint + 1)))
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
            size += count
            if on_bytes:
                on_bytes(count)
    return "sha256:" + hasher.hexdigest(), size


def file_fingerprint(path: Path, size: int) -> str:
    """The cheap identity hint of :func:`schemas.digests.fingerprint`: two 64 KiB reads."""
    with open(path, "rb") as handle:
        head = handle.read(FINGERPRINT_EDGE)
        handle.seek(max(0, size - FINGERPRINT_EDGE))
        tail = handle.read(FINGERPRINT_EDGE)
    return fingerprint(size, head, tail)


def hash_prefix(path: Path, length: int) -> "hashlib._Hash":
    """A hasher that has consumed the first ``length`` bytes of a file."""
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        remaining = length
        while remaining > 0 and (chunk := handle.read(min(CHUNK_SIZE, remaining))):
            hasher.update(chunk)
            remaining -= len(chunk)
    return hasher
