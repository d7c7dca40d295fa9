"""Moving blobs: upload only what the registry lacks and resume from its offset; download into the cache
with Range resumption, checking size and digest before anything is renamed into place."""

import hashlib
import os
import time
from pathlib import Path

import requests

from client.api import ApiClient
from client.cache import BlobCache
from client.errors import ConnectionFailed, IntegrityError, UploadOffsetMismatch
from client.hashing import file_fingerprint, hash_prefix
from schemas.digests import PipelinedHasher, format_digest

CHUNK_SIZE = 1 << 20
MAX_ATTEMPTS = 5


class FileRegion:
    """Bytes ``[start, end)`` of a file as an iterable with a length, so requests streams it with a
    Content-Length and never holds more than one chunk."""

    def __init__(self, path: Path, start: int, end: int, on_bytes=None, on_chunk=None):
        self.path, self.start, self.end, self.on_bytes, self.on_chunk = path, start, end, on_bytes, on_chunk
        self.sent = 0

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self):
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            remaining = len(self)
            while remaining > 0:
                chunk = handle.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    raise IntegrityError(f"{self.path} shrank while it was being uploaded")
                remaining -= len(chunk)
                self.sent += len(chunk)
                if self.on_chunk:
                    self.on_chunk(chunk)
                if self.on_bytes:
                    self.on_bytes(len(chunk))
                yield chunk


def upload_blob(api: ApiClient, path: Path, digest: str, size: int, on_bytes=None) -> int:
    """Upload one blob of known digest, resuming from the registry's offset; return the bytes sent."""
    state = api.start_upload(digest, size, file_fingerprint(path, size))
    state, sent = _send(api, path, size, state, on_bytes)
    if not state["complete"]:  # all bytes were there already (e.g. an adopted streamed upload)
        api.finalize_upload(state["id"], digest)
    return sent


def stream_blob(api: ApiClient, path: Path, size: int, fingerprint: str, on_bytes=None) -> tuple[str, int]:
    """Upload content new to the registry in one pass, hashing it while it streams (the registry hashes it
    too, on its side); then name the digest, which the registry checks before it commits. Returns
    (digest, bytes sent)."""
    state = api.start_upload(None, size, fingerprint)
    hasher = PipelinedHasher()
    state, sent = _send(api, path, size, state, on_bytes, hasher)
    local = hasher.finish()
    if sent != size:  # a retry skipped or repeated bytes: hash the file as the registry holds it
        local = hash_prefix(path, size)
    digest = format_digest(local.hexdigest())
    api.finalize_upload(state["id"], digest)
    return digest, sent


def _send(api: ApiClient, path: Path, size: int, state: dict, on_bytes, hasher=None) -> tuple[dict, int]:
    """PATCH the rest of the file until the registry holds all of it; retries resume from its offset."""
    sent = 0
    attempts = 0
    while not state["complete"] and state["offset"] < size:
        region = FileRegion(path, state["offset"], size, on_bytes, hasher.update if hasher else None)
        try:
            state = api.upload_bytes(state["id"], state["offset"], region)
        except UploadOffsetMismatch:
            state = api.upload_state(state["id"])
        except ConnectionFailed:
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                raise
            time.sleep(min(2**attempts * 0.25, 5))
            state = api.upload_state(state["id"])
        finally:
            sent += region.sent
    return state, sent


def fetch_blob(api: ApiClient, cache: BlobCache, name: str, path: str, digest: str, size: int,
               on_bytes=None) -> tuple[Path, int]:
    """A verified copy of the blob in the cache, and how many bytes were downloaded for it."""
    cached = cache.verified(digest, size)
    if cached is not None:
        return cached, 0
    with cache.partial(digest) as (partial, handle):
        offset = os.fstat(handle.fileno()).st_size
        if offset > size:
            handle.truncate(0)
            offset = 0
        hasher = hashlib.sha256()
        if offset:
            with open(partial, "rb") as prefix:
                while chunk := prefix.read(CHUNK_SIZE):
                    hasher.update(chunk)
            if on_bytes:
                on_bytes(offset)
        downloaded, hasher = _download(api, name, digest, size, handle, PipelinedHasher(hasher), offset, on_bytes)
        handle.flush()  # no fsync: a cache entry is re-hashed before every use
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            partial.unlink(missing_ok=True)
            raise IntegrityError(f"{path}: the downloaded bytes hash to {actual}, not {digest}; nothing was "
                                 "written. The registry's copy may be damaged: tell its operator.",
                                 code="DIGEST_MISMATCH", details={"path": path, "expected": digest,
                                                                  "actual": actual})
        return cache.commit(digest, partial), downloaded


def _download(api, name, digest, size, handle, hasher, offset, on_bytes):
    downloaded = 0
    attempts = 0
    while offset < size:
        try:
            response = api.download_blob(name, digest, start=offset)
            if offset and response.status_code != 206:  # the range was ignored: start again
                handle.truncate(0)
                hasher.hexdigest()
                hasher = PipelinedHasher()
                offset = 0
            for chunk in response.iter_content(CHUNK_SIZE):
                if offset + len(chunk) > size:
                    raise IntegrityError(f"the registry sent more than the {size} bytes of {digest}",
                                         code="SIZE_MISMATCH")
                handle.write(chunk)
                hasher.update(chunk)
                offset += len(chunk)
                downloaded += len(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
            if offset < size:
                raise requests.ConnectionError("the download ended early")
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, ConnectionFailed):
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                raise ConnectionFailed(f"the download of {digest} kept failing at byte {offset} of {size}") from None
            time.sleep(min(2**attempts * 0.25, 5))
    return downloaded, hasher


def place_file(source: Path, destination: Path) -> None:
    """Put a verified blob at ``destination`` atomically: a hard link where possible, else a copy.

    The output shares the cache's inode when linked; an edit made to it in place is caught because the cache
    re-hashes an entry before reusing it."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f".{destination.name}.regctl-{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    try:
        os.link(source, temp)
    except OSError:
        _copy(source, temp)
    os.replace(temp, destination)


def _copy(source: Path, target: Path) -> None:
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while chunk := reader.read(CHUNK_SIZE):
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
