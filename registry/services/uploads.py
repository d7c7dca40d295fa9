"""Content-addressed uploads: ask what is missing, stream it in resumable sessions, verify, then commit.

Bytes become a visible blob only after their SHA-256 and size match what the client declared. A user may
only build on blobs they hold: blobs of versions they can read, or blobs they uploaded themselves. Anyone else
must upload the bytes (which proves they have them) even if the registry already stores them, and is answered
exactly as if it did not: nothing tells them whether, or at which size, content they do not hold is stored.
"""

import secrets
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, object_session

from reproreg.context import RegistryContext
from reproreg.db import insert_missing
from reproreg.errors import RegistryError
from reproreg.models import Artifact, Blob, MultipartUpload, UploadSession, User, Version, VersionFile
from reproreg.models.base import utcnow
from reproreg.models.storage import FAILED, RECEIVING, VERIFYING
from reproreg.services.access import readable_artifact_filter
from reproreg.services.integrity import quarantined_digests, record_repair, stored_copy_is_sound
from reproreg.storage import OffsetMismatch
from reproreg_schemas.digests import FINGERPRINT_EDGE, PipelinedHasher, fingerprint, format_digest

#: digests per SQL query (an IN list) where a request names many: well below the bound-parameter limits of SQLite
#: and PostgreSQL (65535), whatever the request size
DIGESTS_PER_SQL_QUERY = 2000


def _slices(values: list[str], size: int = DIGESTS_PER_SQL_QUERY):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def held_digests(session: Session, user: User | None, digests: Iterable[str]) -> set[str]:
    """The digests among ``digests`` that are stored and that ``user`` may use in a version, in a few queries per
    2,000 digests.

    A blob quarantined as damaged is held by nobody until its bytes are uploaded again."""
    held: set[str] = set()
    for part in _slices(sorted(set(digests))):
        held |= _held_among(session, user, set(part))
    return held


def _held_among(session: Session, user: User | None, wanted: set[str]) -> set[str]:
    """One query: each stored blob among ``wanted`` that a version the user may read uses (EXISTS, so that a
    blob shared by many versions is one row, not one per version), or that the user uploaded."""
    if not wanted:
        return set()
    held = (exists().where(VersionFile.blob_digest == Blob.digest, Version.id == VersionFile.version_id,
                           Artifact.id == Version.artifact_id, readable_artifact_filter(user)))
    if user is not None:
        held = held | exists().where(UploadSession.digest == Blob.digest, UploadSession.user_id == user.id,
                                     UploadSession.completed_at.is_not(None))
    present = set(session.scalars(select(Blob.digest).where(Blob.digest.in_(wanted), held)))
    return present - quarantined_digests(session, present)


def known_fingerprints(session: Session, user: User, fingerprints: list[str]) -> list[str]:
    """The fingerprints that match a blob ``user`` holds, or one of the user's unfinished uploads.

    A client hashes such files before uploading (so it can skip or resume them); content with an unknown
    fingerprint is new to this user, and is hashed while it streams."""
    wanted = list(dict.fromkeys(fingerprints))
    known: set[str] = set()
    for part in _slices(wanted):
        rows = session.execute(select(Blob.digest, Blob.fingerprint).where(Blob.fingerprint.in_(part))).all()
        held = held_digests(session, user, [digest for digest, _ in rows])
        known |= {fp for digest, fp in rows if digest in held}
        known |= set(session.scalars(select(UploadSession.fingerprint).where(
            UploadSession.user_id == user.id, UploadSession.completed_at.is_(None),
            UploadSession.fingerprint.in_(part))))
    return [fp for fp in wanted if fp in known]


def refuse_verifying(session: Session, user: User, digests: Iterable[str]) -> None:
    """Refuse (BLOB_VERIFYING) a version naming content the user has uploaded but the registry is still hashing:
    the client waits for its uploads to be committed (polling them) before it publishes."""
    wanted = set(digests)
    verifying: set[str] = set()
    for part in _slices(sorted(wanted)):
        verifying |= set(session.scalars(select(UploadSession.digest).join(
            MultipartUpload, MultipartUpload.upload_id == UploadSession.id).where(
            UploadSession.user_id == user.id, UploadSession.completed_at.is_(None),
            MultipartUpload.status == VERIFYING, UploadSession.digest.in_(part))))
    verifying -= held_digests(session, user, verifying)
    if verifying:
        raise RegistryError("BLOB_VERIFYING", f"{len(verifying)} uploaded file(s) are still being verified; wait "
                            "until their uploads are complete (GET /api/v1/uploads/<id>), then publish",
                            digests=sorted(verifying))


def blob_sizes(session: Session, digests: Iterable[str]) -> dict[str, int]:
    """The stored size of each of ``digests`` that is stored."""
    sizes: dict[str, int] = {}
    for part in _slices(sorted(set(digests))):
        sizes.update((digest, size) for digest, size in session.execute(
            select(Blob.digest, Blob.size).where(Blob.digest.in_(part))))
    return sizes


def missing_blobs(session: Session, user: User, digests: list[str]) -> list[str]:
    """The digests among ``digests`` that ``user`` must still upload, in a few queries per 2,000 digests."""
    wanted = list(dict.fromkeys(digests))
    held = held_digests(session, user, wanted)
    return [digest for digest in wanted if digest not in held]


def upload_state(ctx: RegistryContext, upload: UploadSession) -> dict:
    """Where an upload stands: ``status`` is receiving, verifying (assembled in the object store, being hashed by
    a job), complete, or failed (``error`` then says why, with its stable code; nothing of it was kept)."""
    complete = upload.completed_at is not None
    record = None if complete else object_session(upload).get(MultipartUpload, upload.id)
    if record is not None and record.status in (VERIFYING, FAILED):
        state = {"id": upload.id, "digest": upload.digest, "size": upload.size, "complete": False,
                 "offset": upload.size if record.status == VERIFYING else 0, "status": record.status}
        if record.status == FAILED:
            state["error"] = record.outcome
        return state
    offset = upload.size if complete else ctx.blobs.upload_offset(upload.id)
    state = {"id": upload.id, "digest": upload.digest, "size": upload.size, "offset": offset, "complete": complete,
             "status": "complete" if complete else RECEIVING}
    if offers_multipart(ctx, upload, offset):  # send the bytes straight to the object store (services.multipart)
        part_size = ctx.settings.multipart_part_bytes
        state["multipart"] = {"part_size": part_size, "parts": -(-upload.size // part_size)}
    return state


def offers_multipart(ctx: RegistryContext, upload: UploadSession, offset: int | None = None) -> bool:
    """Whether an upload's bytes should go straight to the object store, in parts, rather than through us: large
    ones, unless bytes of it already came through us (it resumes from there)."""
    if not (ctx.blobs.supports_presigning and upload.completed_at is None
            and upload.size >= ctx.settings.multipart_threshold_bytes):
        return False
    return (ctx.blobs.upload_offset(upload.id) if offset is None else offset) == 0


def _open_upload(session: Session, user: User, size: int, **match) -> UploadSession | None:
    conditions = [UploadSession.user_id == user.id, UploadSession.completed_at.is_(None), UploadSession.size == size,
                  ~exists().where(MultipartUpload.upload_id == UploadSession.id, MultipartUpload.status == FAILED)]
    conditions += [getattr(UploadSession, key) == value for key, value in match.items()]
    return session.scalar(select(UploadSession).where(*conditions).order_by(UploadSession.created_at))


def start_upload(ctx: RegistryContext, session: Session, user: User, digest: str | None, size: int,
                 fingerprint: str | None = None) -> dict:
    """Open (or resume) the user's upload session for a blob.

    With a digest the call is idempotent: it resumes the user's unfinished upload of that content (or of
    content with the same fingerprint still awaiting its digest). Without one, the bytes are hashed while they
    stream and the client names the digest when it finalises the upload."""
    if size > ctx.settings.max_blob_bytes:
        raise RegistryError("PAYLOAD_TOO_LARGE", f"a blob may be at most {ctx.settings.max_blob_bytes} bytes",
                            limit=ctx.settings.max_blob_bytes, size=size)
    if digest is None:
        upload = _new_upload(session, user, None, size, fingerprint)
        return upload_state(ctx, upload)
    if digest in held_digests(session, user, [digest]):  # only content the caller holds is answered from storage
        blob = session.get(Blob, digest)
        if blob.size != size:
            raise RegistryError("BLOB_SIZE_MISMATCH", f"{digest} is stored with size {blob.size}, not {size}",
                                digest=digest, stored_size=blob.size, size=size)
        return {"id": None, "digest": digest, "size": size, "offset": size, "complete": True}
    upload = _open_upload(session, user, size, digest=digest)
    if upload is None and fingerprint:
        upload = _open_upload(session, user, size, digest=None, fingerprint=fingerprint)
        if upload is not None:
            upload.digest = digest  # adopt a streamed upload that was interrupted before it was finalised
    if upload is None:
        upload = _new_upload(session, user, digest, size, fingerprint)
    return upload_state(ctx, upload)


def _new_upload(session: Session, user: User, digest: str | None, size: int, fingerprint: str | None):
    upload = UploadSession(id=secrets.token_hex(16), user_id=user.id, digest=digest, size=size,
                           fingerprint=fingerprint)
    session.add(upload)
    return upload


def get_upload(session: Session, user: User, upload_id: str) -> UploadSession:
    upload = session.get(UploadSession, upload_id) if upload_id.isalnum() else None
    if upload is None or upload.user_id != user.id:
        raise RegistryError("NOT_FOUND", f"no upload session {upload_id!r}; start one with POST /api/v1/uploads")
    return upload


def cancel_upload(ctx: RegistryContext, session: Session, user: User, upload_id: str) -> None:
    upload = get_upload(session, user, upload_id)
    if upload.completed_at is None:
        _abandon(ctx, session, upload)


def prune_abandoned(ctx: RegistryContext, session: Session, older_than_s: int) -> int:
    """Discard unfinished uploads started more than ``older_than_s`` seconds ago, bytes and all."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    stale = list(session.scalars(select(UploadSession).where(UploadSession.completed_at.is_(None),
                                                             UploadSession.created_at < cutoff)))
    for upload in stale:
        _abandon(ctx, session, upload)
    return len(stale)


def _abandon(ctx: RegistryContext, session: Session, upload: UploadSession) -> None:
    ctx.hash_states.drop(upload.id)
    multipart = session.get(MultipartUpload, upload.id)
    if multipart is not None:
        ctx.blobs.abort_multipart(upload.id, multipart.storage_id)
        session.delete(multipart)
        session.flush()
    ctx.blobs.discard(upload.id)
    session.delete(upload)


def append_upload(ctx: RegistryContext, session: Session, user: User, upload_id: str, offset: int,
                  chunks: Iterable[bytes], content_length: int | None) -> dict:
    """Store the next bytes of an upload, hashing them as they stream; commit the blob once complete."""
    upload = get_upload(session, user, upload_id)
    if upload.completed_at is not None:
        if offset == upload.size and not content_length:
            return upload_state(ctx, upload)
        raise RegistryError("UPLOAD_OFFSET_MISMATCH", "this upload is already complete",
                            offset=upload.size, complete=True)
    stored = ctx.blobs.upload_offset(upload.id)
    if offset != stored:
        raise RegistryError("UPLOAD_OFFSET_MISMATCH", f"the upload is at offset {stored}, not {offset}; "
                            "continue from the stored offset", offset=stored)
    if content_length is not None and offset + content_length > upload.size:
        raise RegistryError("SIZE_MISMATCH", f"{offset + content_length} bytes would exceed the declared size "
                            f"{upload.size}", size=upload.size)
    hasher = PipelinedHasher(ctx.hash_states.take(upload.id, offset, lambda: ctx.blobs.read_upload(upload.id)))
    hashed = [offset]

    def hashing(source):
        for chunk in source:
            if hashed[0] + len(chunk) > upload.size:
                raise RegistryError("SIZE_MISMATCH", f"more bytes than the declared size {upload.size}",
                                    size=upload.size)
            hasher.update(chunk)
            hashed[0] += len(chunk)
            yield chunk

    try:
        new_offset = ctx.blobs.append(upload.id, offset, hashing(chunks))
    except OffsetMismatch as err:
        hasher.finish()
        ctx.hash_states.drop(upload.id)
        raise RegistryError("UPLOAD_OFFSET_MISMATCH", f"the upload is at offset {err.actual}, not {offset}",
                            offset=err.actual) from None
    except RegistryError as err:
        hasher.finish()
        if err.code == "SIZE_MISMATCH":
            _abandon(ctx, session, upload)
            err.keeping_changes()  # the upload stays discarded
        raise
    except BaseException:
        # Interrupted (e.g. the client went away): keep what was stored so the upload can resume.
        ctx.hash_states.put(upload.id, hashed[0], hasher.finish())
        raise
    if new_offset < upload.size or upload.digest is None:
        ctx.hash_states.put(upload.id, new_offset, hasher.finish())  # a streamed upload awaits its digest
        return upload_state(ctx, upload)
    return _finish(ctx, session, upload, format_digest(hasher.hexdigest()))


def finalize_upload(ctx: RegistryContext, session: Session, user: User, upload_id: str, digest: str) -> dict:
    """Name the digest of an upload whose bytes have all arrived; commit it if the bytes hash to it."""
    upload = get_upload(session, user, upload_id)
    if upload.completed_at is not None:
        if upload.digest != digest:
            raise RegistryError("DIGEST_MISMATCH", f"this upload was committed as {upload.digest}, not {digest}",
                                expected=digest, actual=upload.digest)
        return upload_state(ctx, upload)
    record = session.get(MultipartUpload, upload.id)
    if record is not None and record.status in (VERIFYING, FAILED):  # a job hashes it (or has refused it)
        if upload.digest != digest:
            raise RegistryError("DIGEST_MISMATCH", f"this upload was declared as {upload.digest}, not {digest}",
                                expected=upload.digest, actual=digest)
        return upload_state(ctx, upload)
    stored = ctx.blobs.upload_offset(upload.id)
    if stored != upload.size:
        raise RegistryError("UPLOAD_OFFSET_MISMATCH", f"only {stored} of {upload.size} bytes have arrived",
                            offset=stored)
    if upload.digest is not None and upload.digest != digest:
        raise RegistryError("DIGEST_MISMATCH", f"this upload was declared as {upload.digest}, not {digest}",
                            expected=upload.digest, actual=digest)
    upload.digest = digest
    hasher = ctx.hash_states.take(upload.id, stored, lambda: ctx.blobs.read_upload(upload.id))
    return _finish(ctx, session, upload, format_digest(hasher.hexdigest()))


def stored_fingerprint(ctx: RegistryContext, digest: str, size: int) -> str:
    """The fingerprint of a committed blob, computed from the stored bytes (never taken from a client)."""
    head = next(ctx.blobs.read(digest, 0, FINGERPRINT_EDGE), b"")
    tail = next(ctx.blobs.read(digest, max(0, size - FINGERPRINT_EDGE), FINGERPRINT_EDGE), b"")
    return fingerprint(size, head, tail)


def _finish(ctx: RegistryContext, session: Session, upload: UploadSession, actual_digest: str) -> dict:
    ctx.hash_states.drop(upload.id)
    if actual_digest != upload.digest:
        expected = upload.digest
        _abandon(ctx, session, upload)
        raise RegistryError("DIGEST_MISMATCH", f"the uploaded bytes hash to {actual_digest}, not {expected}; "
                            "nothing was stored", expected=expected, actual=actual_digest).keeping_changes()
    repair = _store_blob(ctx, session, upload)
    if session.get(Blob, upload.digest) is None:  # a concurrent upload of the same content may record it first
        insert_missing(session, Blob, [{"digest": upload.digest, "size": upload.size,
                                        "fingerprint": stored_fingerprint(ctx, upload.digest, upload.size)}])
    if repair:
        record_repair(session, session.get(User, upload.user_id), upload.digest, repair)
    upload.completed_at = utcnow()
    session.flush()
    return upload_state(ctx, upload)


def _store_blob(ctx: RegistryContext, session: Session, upload: UploadSession) -> str | None:
    """Put the verified upload in place as its blob; returns why, when it repairs a damaged or quarantined copy.

    A stored copy the upload meets is kept only if its size and digest check out. Hashing it costs one read of
    the blob, and happens only here: content the caller already holds is never uploaded (the missing-blob query
    and POST /uploads answer it as complete), so a commit meets a stored copy only when someone who did not hold
    the content has just sent all of its bytes, which costs more than reading them back once."""
    digest, size = upload.digest, upload.size
    stored_size = ctx.blobs.size(digest)
    if stored_size is not None and stored_copy_is_sound(ctx.blobs, digest, size):
        ctx.blobs.commit(upload.id, digest, size)  # the stored copy stays; the upload is discarded
        return None
    ctx.blobs.commit(upload.id, digest, size, replace=True)
    if stored_size is not None:
        return f"replaced a damaged stored copy ({stored_size} bytes)"
    if session.get(Blob, digest) is not None:
        return "stored again: the stored copy had been quarantined or lost"
    return None
