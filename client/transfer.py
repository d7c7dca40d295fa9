"""Moving blobs: upload only what the registry lacks and resume from its offset; download into the cache
with Range resumption, checking size and digest before anything is renamed into place."""

import base64
import fcntl
import hashlib
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from regctl.api import ApiClient, Backoff, StoreUnavailable
from regctl.cache import BlobCache
from regctl.errors import ConnectionFailed, IntegrityError, UploadOffsetMismatch, from_server
from regctl.hashing import file_fingerprint, hash_prefix
from reproreg_schemas.api import BATCH_MAX_BLOB_BYTES, BATCH_MAX_BLOBS
from reproreg_schemas.digests import PipelinedHasher, format_digest

CHUNK_SIZE = 1 << 20
#: files up to this size are uploaded in batches (POST /blobs/batch), many per request
SMALL_BLOB_BYTES = BATCH_MAX_BLOB_BYTES
#: a batch holds at most this many blobs and about this many bytes: enough to spread over the upload threads
BATCH_BLOBS = min(250, BATCH_MAX_BLOBS)
BATCH_BYTES = 8 << 20
BATCH_BUFFER_BYTES = 256 << 10
FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
#: parts of one multipart upload sent to the object store at once
PART_THREADS = 8
#: polling an upload the registry verifies after completion: first wait, longest wait, how often to say so
VERIFY_POLL_FIRST_S = 0.5
VERIFY_POLL_MAX_S = 5.0
VERIFY_REPORT_EVERY_S = 30.0


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
    if state.get("status") == "verifying":  # an earlier push got this far: the registry is still hashing it
        wait_until_verified(api, state)
        return 0
    if state.get("multipart") and not state["complete"]:
        parts, _ = _announce(path, size, state["multipart"]["part_size"])
        return _send_parts(api, path, state, parts, digest, on_bytes)
    state, sent = _send(api, path, size, state, on_bytes)
    if not state["complete"]:  # all bytes were there already (e.g. an adopted streamed upload)
        api.finalize_upload(state["id"], digest)
    return sent


def stream_blob(api: ApiClient, path: Path, size: int, fingerprint: str, on_bytes=None) -> tuple[str, int]:
    """Upload content new to the registry in one pass, hashing it while it streams (the registry hashes it
    too, on its side); then name the digest, which the registry checks before it commits. Returns
    (digest, bytes sent)."""
    state = api.start_upload(None, size, fingerprint)
    if state.get("status") == "verifying":
        wait_until_verified(api, state)
        return state["digest"], 0
    if state.get("multipart") and not state["complete"]:
        parts, digest = _announce(path, size, state["multipart"]["part_size"])
        return digest, _send_parts(api, path, state, parts, digest, on_bytes)
    hasher = PipelinedHasher()
    state, sent = _send(api, path, size, state, on_bytes, hasher)
    local = hasher.finish()
    if sent != size:  # a retry skipped or repeated bytes: hash the file as the registry holds it
        local = hash_prefix(path, size)
    digest = format_digest(local.hexdigest())
    api.finalize_upload(state["id"], digest)
    return digest, sent


def _send(api: ApiClient, path: Path, size: int, state: dict, on_bytes, hasher=None) -> tuple[dict, int]:
    """PATCH the rest of the file until the registry holds all of it.

    When the connection breaks (the registry restarted, a proxy timed out), ask the registry how far the upload
    got and go on from there; an outage is waited out for up to REGCTL_RETRY_S, and each one that the upload
    survives with progress gets a fresh allowance."""
    sent = 0
    backoff = None
    while not state["complete"] and state["offset"] < size:
        start = state["offset"]
        region = FileRegion(path, start, size, on_bytes, hasher.update if hasher else None)
        try:
            state = api.upload_bytes(state["id"], start, region)
        except UploadOffsetMismatch:
            state = api.upload_state(state["id"])
        except ConnectionFailed as err:
            backoff = backoff or Backoff()
            backoff.wait_or_raise(err)
            state = api.upload_state(state["id"])  # itself retried until the registry answers again
            if on_bytes and region.sent:
                on_bytes(state["offset"] - start - region.sent)  # take back what the registry did not keep
            if state["offset"] > start:
                backoff = None
        finally:
            sent += region.sent
    return state, sent


def _announce(path: Path, size: int, part_size: int) -> tuple[list[dict], str]:
    """Each part's number, size and SHA-256 (base64, as x-amz-checksum-sha256 carries it), and the whole file's
    digest, in one pass over the file."""
    whole = PipelinedHasher()
    parts = []
    with open(path, "rb") as handle:
        for number, start in enumerate(range(0, size, part_size), start=1):
            length = min(part_size, size - start)
            part = hashlib.sha256()
            remaining = length
            while remaining > 0:
                chunk = handle.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    raise IntegrityError(f"{path} shrank while it was being hashed; push again", code="FILE_CHANGED",
                                         details={"path": str(path)})
                part.update(chunk)
                whole.update(chunk)
                remaining -= len(chunk)
            parts.append({"number": number, "size": length, "sha256": base64.b64encode(part.digest()).decode()})
    return parts, format_digest(whole.hexdigest())


def _send_parts(api: ApiClient, path: Path, state: dict, parts: list[dict], digest: str, on_bytes) -> int:
    """Send the parts the object store lacks to their presigned URLs (no registry token goes there), several at
    once; then ask the registry to assemble and verify them. A part the store refuses or loses (an expired URL,
    an outage) is sent again with a fresh URL, through up to REGCTL_RETRY_S of trouble. Returns the bytes sent."""
    part_size = state["multipart"]["part_size"]
    by_number = {part["number"]: part for part in parts}
    sent = [0]
    backoff = None
    pending = list(parts)
    while pending:
        offer = api.presign_parts(state["id"], pending)
        stored = [by_number[number] for number in offer["stored"] if number in by_number]
        if on_bytes and stored:
            on_bytes(sum(part["size"] for part in stored))

        def put(item, by_number=by_number):
            part = by_number[item["number"]]
            start = (part["number"] - 1) * part_size
            region = FileRegion(path, start, start + part["size"], on_bytes)
            try:
                api.put_part(item["url"], region, part["sha256"])
                return None
            except StoreUnavailable as err:
                if on_bytes and region.sent:
                    on_bytes(-region.sent)  # take back what the store did not keep
                return err
            finally:
                sent[0] += region.sent

        with ThreadPoolExecutor(max_workers=max(1, min(PART_THREADS, len(offer["parts"])))) as pool:
            outcomes = zip(offer["parts"], pool.map(put, offer["parts"]), strict=True)
            failures = [(item, failure) for item, failure in outcomes if failure is not None]
        pending = [by_number[item["number"]] for item, _ in failures]
        if pending:
            backoff = backoff or Backoff()
            backoff.wait_or_raise(failures[0][1])
    wait_until_verified(api, api.complete_upload(state["id"], digest))
    return sent[0]


def wait_until_verified(api: ApiClient, state: dict, report=None, clock=time.monotonic, sleep=time.sleep) -> dict:
    """Poll an upload the registry is verifying (a large one, hashed by a job after completion) until it is
    complete, backing off from 0.5 s to 5 s, with a line now and then saying so; a failed verification raises
    the registry's error (a mismatch is an integrity failure: exit 2). Returns the final state."""
    report = report or _note
    started = clock()
    delay, announced_at = VERIFY_POLL_FIRST_S, None
    while state.get("status") == "verifying":
        waited = clock() - started
        if announced_at is None or waited - announced_at >= VERIFY_REPORT_EVERY_S:
            report(f"the registry is verifying {state.get('digest') or 'an upload'} ({state.get('size', 0)} bytes): "
                   f"{waited:.0f} s so far")
            announced_at = waited
        sleep(delay)
        delay = min(delay * 1.5, VERIFY_POLL_MAX_S)
        state = api.upload_state(state["id"])
    if state.get("status") == "failed":
        error = state.get("error") or {}
        raise from_server(error.get("code") or "DIGEST_MISMATCH",
                          error.get("message") or "the registry refused the upload after verifying it",
                          error.get("details") or {})
    return state


def _note(message: str) -> None:
    from regctl.output import note

    note(message)


class BlobBatchBody:
    """Small files framed for POST /blobs/batch (``<digest> <size>\\n`` then the bytes), read one at a time while
    requests sends them; iterating again starts again, so a failed batch can be sent anew."""

    def __init__(self, blobs: list[tuple[str, Path, int]]):
        self.blobs = blobs
        self.length = sum(len(_frame_header(digest, size)) + size for digest, _, size in blobs)

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        buffer = bytearray()
        for digest, path, size in self.blobs:
            buffer += _frame_header(digest, size)
            with open(path, "rb") as handle:
                data = handle.read(size + 1)
            if len(data) != size:
                raise IntegrityError(f"{path} changed size while it was being pushed; push again",
                                     code="FILE_CHANGED", details={"path": str(path)})
            buffer += data
            if len(buffer) >= BATCH_BUFFER_BYTES:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)


def _frame_header(digest: str, size: int) -> bytes:
    return f"{digest} {size}\n".encode()


def upload_blob_batch(api: ApiClient, blobs: list[tuple[str, Path, int]], on_bytes=None) -> int:
    """Upload small blobs (digest, file, size) in one request; the registry stores all of them or none, so a
    batch cut short by a broken connection is simply sent again (by the API client, through an outage). Returns
    the bytes sent."""
    api.upload_blob_batch(BlobBatchBody(blobs))
    total = sum(size for _, _, size in blobs)
    if on_bytes:
        on_bytes(total)
    return total


def batches(blobs: list[tuple[str, Path, int]], max_blobs: int = BATCH_BLOBS,
            max_bytes: int = BATCH_BYTES) -> list[list[tuple[str, Path, int]]]:
    """Split small blobs into batches of at most ``max_blobs`` blobs and about ``max_bytes`` bytes."""
    groups: list[list] = []
    current: list = []
    current_bytes = 0
    for blob in blobs:
        if current and (len(current) >= max_blobs or current_bytes + blob[2] > max_bytes):
            groups.append(current)
            current, current_bytes = [], 0
        current.append(blob)
        current_bytes += blob[2]
    if current:
        groups.append(current)
    return groups


def fetch_blob(api: ApiClient, cache: BlobCache, name: str, path: str, digest: str, size: int,
               on_bytes=None) -> tuple[Path, int]:
    """Download a blob into the cache, checking its size and digest before it is renamed into place; returns the
    cache entry and the bytes downloaded. An entry already in the cache is returned as is: whoever copies it out
    checks it (see :func:`place_file`)."""
    cached = cache.lookup(digest, size)
    if cached is not None:
        return cached, 0
    with cache.partial(digest) as (partial, handle):
        if (cached := cache.lookup(digest, size)) is not None:  # another regctl finished it while we waited
            return cached, 0
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
        pipelined = PipelinedHasher(hasher) if size > CHUNK_SIZE else hasher  # no thread for a small blob
        downloaded, hasher = _download(api, name, digest, size, handle, pipelined, offset, on_bytes)
        handle.flush()  # no fsync: a cache entry is checked again whenever it is copied out
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            partial.unlink(missing_ok=True)
            raise IntegrityError(f"{path}: the downloaded bytes hash to {actual}, not {digest}; nothing was "
                                 "written. The registry's copy may be damaged: tell its operator.",
                                 code="DIGEST_MISMATCH", details={"path": path, "expected": digest,
                                                                  "actual": actual})
        return cache.commit(digest, partial), downloaded


def _download(api, name, digest, size, handle, hasher, offset, on_bytes):
    """Append the blob from ``offset`` to ``handle``; a broken transfer resumes with a Range request, for up to
    REGCTL_RETRY_S through each outage."""
    downloaded = 0
    backoff = None
    while offset < size:
        before = offset
        try:
            response = api.download_blob(name, digest, start=offset)
            if offset and response.status_code != 206:  # the range was ignored: start again
                handle.truncate(0)
                hasher.hexdigest()
                hasher = PipelinedHasher()
                offset = before = 0
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
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, ConnectionFailed) as err:
            if offset > before:
                backoff = None
            backoff = backoff or Backoff()
            backoff.wait_or_raise(err, ConnectionFailed(f"the download of {digest} kept failing at byte {offset} "
                                                        f"of {size}"))
    return downloaded, hasher


def place_file(source: Path, destination: Path, digest: str | None = None) -> bool:
    """Put a private copy of ``source`` at ``destination``, atomically (a temporary file renamed into place).

    The copy never shares its bytes with the cache or with another pull: a reflink where the file system can
    make one (copy-on-write: an edit to either file leaves the other alone), else an in-kernel copy, else a
    streamed one; memory stays flat. With ``digest`` the copy is hashed as it is made and put in place only if
    it matches; returns whether it was."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f".{destination.name}.regctl-{secrets.token_hex(6)}.tmp")
    try:
        with open(source, "rb") as reader, open(temp, "xb") as writer:
            actual = _copy_contents(reader, writer, hashing=digest is not None)
        if digest is not None and actual != digest:
            temp.unlink()
            return False
        os.replace(temp, destination)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return True


def _copy_contents(reader, writer, hashing: bool) -> str | None:
    """Copy an open file into another; with ``hashing``, return the digest of the bytes the copy holds."""
    if _reflink(reader, writer):
        if not hashing:
            return None
        writer.flush()
        with open(writer.name, "rb") as copy:
            return _hash_stream(copy)
    if not hashing and _copy_in_kernel(reader, writer):
        return None
    reader.seek(0)
    writer.seek(0)
    writer.truncate()
    hasher = PipelinedHasher() if hashing else None
    while chunk := reader.read(CHUNK_SIZE):
        writer.write(chunk)
        if hasher:
            hasher.update(chunk)
    return format_digest(hasher.hexdigest()) if hasher else None


def _reflink(reader, writer) -> bool:
    """A copy-on-write clone of the whole file (ioctl FICLONE: btrfs, XFS, bcachefs...), where supported."""
    try:
        fcntl.ioctl(writer.fileno(), FICLONE, reader.fileno())
        return True
    except OSError:
        return False


def _copy_in_kernel(reader, writer) -> bool:
    """os.copy_file_range: no bytes through user space, and a reflink where the kernel can make one."""
    size = os.fstat(reader.fileno()).st_size
    copied = 0
    try:
        while copied < size:
            count = os.copy_file_range(reader.fileno(), writer.fileno(), min(size - copied, 1 << 30))
            if count == 0:
                return False
            copied += count
    except (AttributeError, OSError):
        return False
    return True


def _hash_stream(handle) -> str:
    hasher = PipelinedHasher()
    while chunk := handle.read(CHUNK_SIZE):
        hasher.update(chunk)
    return format_digest(hasher.hexdigest())
