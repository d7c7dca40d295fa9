"""Many small blobs in one request (POST /api/v1/blobs/batch), so a version of thousands of small files does not
cost two round trips, two transactions and a token check per file.

The body is a sequence of frames, each ``<digest> <size>\\n`` followed by exactly ``size`` bytes. Every blob is
hashed as it streams into storage and compared with its declared digest; only when the whole body has arrived
and every blob matched are they committed (through the same code path as a resumable upload, which re-checks a
stored copy it meets) and recorded as uploaded by the caller, in one transaction. Any problem discards the whole
batch: nothing of it becomes visible. Blobs above ``BATCH_MAX_BLOB_BYTES`` use the resumable uploads.
"""

import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.db import insert_missing
from reproreg.errors import RegistryError
from reproreg.models import Blob, UploadSession, User
from reproreg.models.base import utcnow
from reproreg.services.integrity import record_repair
from reproreg.services.uploads import _store_blob, stored_fingerprint
from reproreg_schemas.api import BATCH_MAX_BLOB_BYTES, BATCH_MAX_BLOBS
from reproreg_schemas.digests import format_digest

FRAME_HEADER_RE = re.compile(rb"^(sha256:[0-9a-f]{64}) (0|[1-9][0-9]{0,15})\n$")
MAX_HEADER_BYTES = 96
READ_CHUNK = 256 * 1024
#: digests per SQL query (an IN list), well below SQLite's and PostgreSQL's limits on bound parameters
QUERY_CHUNK = 2000


@dataclass
class ReceivedBlob:
    upload_id: str
    digest: str
    size: int


def store_batch(ctx: RegistryContext, session: Session, user: User, stream) -> dict:
    """Receive, verify and commit every blob of a batch body read from ``stream``; all or nothing."""
    received: list[ReceivedBlob] = []
    try:
        for digest, size in _frame_headers(stream, received):
            received.append(_receive_blob(ctx, stream, digest, size))
        if not received:
            raise RegistryError("BAD_REQUEST", "the batch holds no blob: send frames '<digest> <size>\\n<bytes>'")
        known = _known_blobs(session, {blob.digest for blob in received})
        repairs = {blob.digest: _commit(ctx, session, blob, known) for blob in received}
    except BaseException:
        for blob in received:
            ctx.blobs.discard(blob.upload_id)
        raise
    _record(ctx, session, user, received, repairs)
    return {"stored": [blob.digest for blob in received], "bytes": sum(blob.size for blob in received)}


def _frame_headers(stream, received: list[ReceivedBlob]) -> Iterator[tuple[str, int]]:
    """Each frame's (digest, size), read up to the end of the body; the frame's bytes are read by the caller."""
    while True:
        line = stream.readline(MAX_HEADER_BYTES)
        if not line:
            return
        match = FRAME_HEADER_RE.match(line)
        if match is None:
            raise RegistryError("BAD_REQUEST", f"frame {len(received) + 1} of the batch does not start with a line "
                                "'sha256:<64 hex> <size>'", frame=len(received) + 1)
        if len(received) >= BATCH_MAX_BLOBS:
            raise RegistryError("PAYLOAD_TOO_LARGE", f"a batch holds at most {BATCH_MAX_BLOBS} blobs",
                                limit=BATCH_MAX_BLOBS)
        size = int(match.group(2))
        if size > BATCH_MAX_BLOB_BYTES:
            raise RegistryError("PAYLOAD_TOO_LARGE", f"a blob sent in a batch may be at most {BATCH_MAX_BLOB_BYTES} "
                                "bytes; upload larger ones with POST /api/v1/uploads", limit=BATCH_MAX_BLOB_BYTES,
                                size=size, frame=len(received) + 1)
        yield match.group(1).decode(), size


def _receive_blob(ctx: RegistryContext, stream, digest: str, size: int) -> ReceivedBlob:
    """Store one frame's bytes as a fresh upload, hashing them as they arrive; refuse them unless they match."""
    blob = ReceivedBlob(secrets.token_hex(16), digest, size)
    hasher = hashlib.sha256()
    try:
        ctx.blobs.append(blob.upload_id, 0, _exactly(stream, size, hasher, digest))
    except BaseException:
        ctx.blobs.discard(blob.upload_id)
        raise
    actual = format_digest(hasher.hexdigest())
    if actual != digest:
        ctx.blobs.discard(blob.upload_id)
        raise RegistryError("DIGEST_MISMATCH", f"the bytes sent for {digest} hash to {actual}; nothing of this batch "
                            "was stored", expected=digest, actual=actual)
    return blob


def _exactly(stream, size: int, hasher, digest: str) -> Iterator[bytes]:
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(READ_CHUNK, remaining))
        if not chunk:
            raise RegistryError("BAD_REQUEST", f"the batch ended inside the bytes of {digest}; nothing of it was "
                                "stored", digest=digest)
        hasher.update(chunk)
        remaining -= len(chunk)
        yield chunk


def _commit(ctx: RegistryContext, session: Session, blob: ReceivedBlob, known: set[str]) -> str | None:
    """Put a verified blob in place, as a resumable upload's commit does; returns the repair it made, if any.

    Content the registry has neither recorded nor stored is simply moved into place (what that commit does for
    it too, without its per-blob lookups); anything else goes through that commit's checks of the stored copy."""
    if blob.digest not in known and ctx.blobs.size(blob.digest) is None:
        ctx.blobs.commit(blob.upload_id, blob.digest, blob.size, replace=True)
        return None
    return _store_blob(ctx, session, UploadSession(id=blob.upload_id, digest=blob.digest, size=blob.size))


def _record(ctx: RegistryContext, session: Session, user: User, received: list[ReceivedBlob],
            repairs: dict[str, str | None]) -> None:
    """The blobs the registry did not know (a concurrent batch may record one first), and proof that ``user``
    uploaded each one."""
    known = _known_blobs(session, {blob.digest for blob in received})
    new = {blob.digest: blob for blob in received if blob.digest not in known}.values()
    insert_missing(session, Blob, [{"digest": blob.digest, "size": blob.size,
                                    "fingerprint": stored_fingerprint(ctx, blob.digest, blob.size)} for blob in new])
    for digest, repair in repairs.items():
        if repair:
            record_repair(session, user, digest, repair)
    now = utcnow()
    session.add_all(UploadSession(id=blob.upload_id, user_id=user.id, digest=blob.digest, size=blob.size,
                                  completed_at=now) for blob in received)
    session.flush()


def _known_blobs(session: Session, digests: set[str]) -> set[str]:
    ordered = sorted(digests)
    known: set[str] = set()
    for start in range(0, len(ordered), QUERY_CHUNK):
        known |= set(session.scalars(select(Blob.digest).where(Blob.digest.in_(ordered[start:start + QUERY_CHUNK]))))
    return known
