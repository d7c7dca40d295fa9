"""Large uploads straight to the object store: the client PUTs each part to a presigned URL, the registry checks.

The registry decides what may be stored and checks it; the object store moves the bytes. Before a client gets a
part's URL it announces the part's size and SHA-256; the SHA-256 is signed into the URL as
``x-amz-checksum-sha256``, so S3 itself refuses other bytes. S3 cannot prove a whole object's SHA-256, and an
S3-compatible store may not enforce part checksums or URL expiry, so the registry trusts none of it: completing
an upload checks each stored part's size, checksum (where the store reports one) and time against what was
announced, then streams the assembled object back and hashes it, whole and part by part. Until that matches,
the object lies under the upload's own key (``uploads/<id>/``), which is never served; only then is it copied
to its content-addressed key. Any mismatch discards the upload, bytes and all, with a stable error code.

Hashing a large object takes minutes (a 15 GB checkpoint), too long for one HTTP request: from
``verify_in_job_bytes`` up, completing only assembles the object and answers at once (the upload is
``verifying``); a job in the registry's own processes hashes it under a lease kept in the database, and the
client polls the upload until it is committed or failed. A failed job deletes the bytes and keeps the error on
the upload (its state carries it); a job whose process died is taken up by the next one that sees its lease
expired.
"""

import base64
import binascii
import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.errors import RegistryError
from reproreg.models import MultipartUpload, UploadSession, User
from reproreg.models.storage import FAILED, RECEIVING, VERIFYING
from reproreg.services.uploads import _abandon, _finish, get_upload, offers_multipart, upload_state
from reproreg_schemas.digests import PipelinedHasher, format_digest

#: seconds a part may reach the store after its URL's expiry (clock skew between the registry and the store)
CLOCK_SKEW_S = 5



def _part_bounds(upload: UploadSession, part_size: int, number: int) -> int:
    """The size part ``number`` must have."""
    count = -(-upload.size // part_size)
    if not 1 <= number <= count:
        raise RegistryError("BAD_REQUEST", f"this upload has parts 1 to {count}, not {number}", parts=count)
    return part_size if number < count else upload.size - part_size * (count - 1)


def _checksum(text: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise RegistryError("BAD_REQUEST", "a part's sha256 is the base64 of its 32-byte SHA-256, as "
                            "x-amz-checksum-sha256 carries it", sha256=text)
    return text


def _open(ctx: RegistryContext, session: Session, user: User, upload_id: str, lock: bool = False):
    upload = get_upload(session, user, upload_id)
    if lock:
        upload = session.scalars(select(UploadSession).where(UploadSession.id == upload.id).with_for_update()
                                 .execution_options(populate_existing=True)).one()
    if upload.completed_at is not None:
        raise RegistryError("UPLOAD_ALREADY_COMPLETE", "this upload is already complete; nothing more may be sent "
                            "to it", digest=upload.digest)
    if not offers_multipart(ctx, upload):
        raise RegistryError("MULTIPART_NOT_SUPPORTED", "this upload goes through the registry: send its bytes with "
                            "PATCH /api/v1/uploads/<id>", size=upload.size)
    return upload


def presign_parts(ctx: RegistryContext, session: Session, user: User, upload_id: str, announced: list[dict]) -> dict:
    """Record each announced part (number, size, sha256) and hand out a URL for each that the store does not
    already hold with exactly that content; ``stored`` lists the parts to skip (a resumed upload)."""
    upload = _open(ctx, session, user, upload_id)
    part_size = ctx.settings.multipart_part_bytes
    record = session.get(MultipartUpload, upload.id)
    if record is not None and record.part_size != part_size:  # the part size changed since: start again
        ctx.blobs.abort_multipart(upload.id, record.storage_id)
        session.delete(record)
        session.flush()
        record = None
    stored: dict[int, dict] = {}
    if record is not None:
        try:
            stored = {part["PartNumber"]: part for part in ctx.blobs.stored_parts(upload.id, record.storage_id)}
        except FileNotFoundError:  # aborted behind our back (a lifecycle rule): start again
            session.delete(record)
            session.flush()
            record = None
    if record is None:
        record = MultipartUpload(upload_id=upload.id, storage_id=ctx.blobs.start_multipart(upload.id),
                                 part_size=part_size, parts={})
        session.add(record)
    parts = dict(record.parts or {})
    expiry = ctx.settings.presign_expiry_s
    urls, skipped = [], []
    for part in announced:
        number, size, checksum = part["number"], part["size"], _checksum(part["sha256"])
        expected = _part_bounds(upload, part_size, number)
        if size != expected:
            raise RegistryError("SIZE_MISMATCH", f"part {number} of this upload has {expected} bytes, not {size}",
                                part=number, size=expected)
        known = parts.get(str(number))
        held = stored.get(number)
        if known and known["sha256"] == checksum and held and held["Size"] == size:
            skipped.append(number)
            continue
        parts[str(number)] = {"size": size, "sha256": checksum, "expires": time.time() + expiry}
        urls.append({"number": number, "url": ctx.blobs.presign_part(upload.id, record.storage_id, number, checksum,
                                                                     expiry)})
    record.parts = parts  # a new dict, so the change is seen
    session.flush()
    return {"id": upload.id, "part_size": part_size, "parts": urls, "stored": sorted(skipped), "expires_in": expiry}


def complete_upload(ctx: RegistryContext, session: Session, user: User, upload_id: str, digest: str | None) -> dict:
    """Assemble the stored parts, check them and the whole object's SHA-256, and commit the blob; anything that
    does not match discards the upload (nothing of it is readable) and is refused with a stable code.

    An upload of ``verify_in_job_bytes`` or more is only assembled here: it is left ``verifying`` and hashed by a
    job (:func:`take_verification` ... :func:`settle_verification`); the caller hands the job over once this
    transaction has committed. Completing an upload that is verifying again answers its state."""
    upload = get_upload(session, user, upload_id)
    record = session.get(MultipartUpload, upload.id)
    if record is not None and record.status in (VERIFYING, FAILED):
        return upload_state(ctx, upload)
    upload = _open(ctx, session, user, upload_id, lock=True)
    record = session.get(MultipartUpload, upload.id, populate_existing=True)
    if record is None:
        raise RegistryError("UPLOAD_INCOMPLETE", "no part of this upload was announced: ask for part URLs with "
                            f"POST /api/v1/uploads/{upload.id}/parts", missing=[])
    if record.status != RECEIVING:  # a concurrent complete got here first
        return upload_state(ctx, upload)
    if digest is not None:
        if upload.digest is not None and upload.digest != digest:
            raise RegistryError("DIGEST_MISMATCH", f"this upload was declared as {upload.digest}, not {digest}",
                                expected=upload.digest, actual=digest)
        upload.digest = digest
    if upload.digest is None:
        raise RegistryError("BAD_REQUEST", "name the digest of an upload started without one")
    try:
        stored = {part["PartNumber"]: part for part in ctx.blobs.stored_parts(upload.id, record.storage_id)}
    except FileNotFoundError:
        raise RegistryError("UPLOAD_ALREADY_COMPLETE", "this upload was completed (or abandoned) already",
                            digest=upload.digest) from None
    count = -(-upload.size // record.part_size)
    missing = [number for number in range(1, count + 1)
               if number not in stored or str(number) not in record.parts]
    if missing:
        raise RegistryError("UPLOAD_INCOMPLETE", f"{len(missing)} part(s) of this upload are not stored yet; send "
                            "them and complete it again", missing=missing[:100])
    for number in range(1, count + 1):
        _check_part(ctx, session, upload, record, number, stored[number])
    ctx.blobs.complete_multipart(upload.id, record.storage_id, [stored[n] for n in range(1, count + 1)])
    if upload.size >= ctx.settings.verify_in_job_bytes:
        record.status, record.lease_owner, record.lease_expires_at = VERIFYING, None, None
        session.flush()
        return upload_state(ctx, upload)
    actual, bad_part = hash_assembled(ctx.blobs, upload.id, upload.size, record.part_size, record.parts)
    if bad_part is not None:
        raise _refuse(ctx, session, upload, "PART_CHECKSUM_MISMATCH", f"part {bad_part} does not hash to the "
                      "SHA-256 announced for it", part=bad_part)
    session.delete(record)
    session.flush()
    return _finish(ctx, session, upload, actual)


# --- verification jobs: the rules; reproreg.jobs.blob_verification runs them, one transaction per step ---------
class LeaseLost(Exception):
    """Another process took the verification over (this one's lease had expired): stop without settling."""


def take_verification(session: Session, upload_id: str, owner: str, now: datetime, lease_s: int) -> dict | None:
    """Take the lease on a verifying upload whose lease is free or expired, with one conditional UPDATE (so two
    processes never both take it); returns what the job needs to hash it, or None when it is not to be taken."""
    taken = session.execute(
        update(MultipartUpload)
        .where(MultipartUpload.upload_id == upload_id, MultipartUpload.status == VERIFYING,
               or_(MultipartUpload.lease_expires_at.is_(None), MultipartUpload.lease_expires_at < now))
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        return None
    record = session.get(MultipartUpload, upload_id, populate_existing=True)
    upload = session.get(UploadSession, upload_id)
    return {"upload_id": upload_id, "size": upload.size, "digest": upload.digest, "part_size": record.part_size,
            "parts": dict(record.parts)}


def renew_verification(session: Session, upload_id: str, owner: str, now: datetime, lease_s: int) -> bool:
    """Extend the lease while the job still holds it; False when another process has taken it over."""
    return session.execute(
        update(MultipartUpload)
        .where(MultipartUpload.upload_id == upload_id, MultipartUpload.status == VERIFYING,
               MultipartUpload.lease_owner == owner)
        .values(lease_expires_at=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)).rowcount == 1


def stalled_verifications(session: Session, now: datetime, upload_id: str | None = None) -> list[str]:
    """Verifying uploads nobody holds a live lease on (never taken, or their verifier crashed)."""
    query = select(MultipartUpload.upload_id).where(
        MultipartUpload.status == VERIFYING,
        or_(MultipartUpload.lease_expires_at.is_(None), MultipartUpload.lease_expires_at < now))
    if upload_id is not None:
        query = query.where(MultipartUpload.upload_id == upload_id)
    return list(session.scalars(query))


def settle_verification(ctx: RegistryContext, session: Session, upload_id: str, owner: str, actual: str,
                        bad_part: int | None) -> str:
    """Act on a job's hash of the assembled object, if the job still holds the lease: commit the blob exactly
    as a synchronous completion does, or delete the bytes and keep the error for the client. Returns the new
    status; raises LeaseLost when another process has taken the upload over."""
    record = session.scalars(select(MultipartUpload).where(MultipartUpload.upload_id == upload_id)
                             .with_for_update().execution_options(populate_existing=True)).one_or_none()
    if record is None or record.status != VERIFYING or record.lease_owner != owner:
        raise LeaseLost(upload_id)
    upload = session.scalars(select(UploadSession).where(UploadSession.id == upload_id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    if bad_part is not None:
        return _fail(ctx, session, upload, record, "PART_CHECKSUM_MISMATCH",
                     f"part {bad_part} does not hash to the SHA-256 announced for it", part=bad_part)
    if actual != upload.digest:
        return _fail(ctx, session, upload, record, "DIGEST_MISMATCH",
                     f"the uploaded bytes hash to {actual}, not {upload.digest}", expected=upload.digest,
                     actual=actual)
    session.delete(record)
    session.flush()
    _finish(ctx, session, upload, actual)
    return "complete"


def _fail(ctx, session, upload: UploadSession, record: MultipartUpload, code: str, message: str, **details) -> str:
    """Delete every byte of the upload; keep the upload and its record, failed, so its state tells the client."""
    if ctx.blobs.supports_presigning:  # an S3 multipart upload (completed already, or not: abort is harmless)
        ctx.blobs.abort_multipart(upload.id, record.storage_id)
    ctx.blobs.discard(upload.id)
    record.status, record.lease_owner, record.lease_expires_at = FAILED, None, None
    record.outcome = {"code": code, "message": message + "; the upload was discarded, nothing of it was stored",
                      "details": details}
    session.flush()
    return FAILED


def _refuse(ctx: RegistryContext, session: Session, upload: UploadSession, code: str, message: str, **details):
    _abandon(ctx, session, upload)
    return RegistryError(code, message + "; the upload was discarded, nothing of it was stored", **details) \
        .keeping_changes()


def _check_part(ctx, session, upload, record, number: int, part: dict) -> None:
    """What the store holds as part ``number`` against what was announced for it (S3 checks this itself; an
    S3-compatible store may not)."""
    announced = record.parts[str(number)]
    if part["Size"] != announced["size"]:
        raise _refuse(ctx, session, upload, "PART_CHECKSUM_MISMATCH", f"part {number} holds {part['Size']} bytes, "
                      f"not the {announced['size']} announced", part=number)
    if part.get("ChecksumSHA256") and part["ChecksumSHA256"] != announced["sha256"]:
        raise _refuse(ctx, session, upload, "PART_CHECKSUM_MISMATCH", f"part {number} does not hash to the SHA-256 "
                      "announced for it", part=number)
    modified = part.get("LastModified")
    if isinstance(modified, datetime) and modified.timestamp() > announced["expires"] + CLOCK_SKEW_S:
        raise _refuse(ctx, session, upload, "PRESIGNED_URL_EXPIRED", f"part {number} was stored after its URL "
                      "expired", part=number)


def hash_assembled(blobs, upload_id: str, size: int, part_size: int, parts: dict,
                   keep_going: Callable[[], None] | None = None) -> tuple[str, int | None]:
    """Stream the assembled object back: its SHA-256, and the first part whose SHA-256 is not the one announced
    (None when all match). ``keep_going`` is called between chunks (a job renews its lease there, and stops
    by raising)."""
    whole = PipelinedHasher()
    part_hash, number, left = hashlib.sha256(), 1, min(part_size, size)
    bad_part = None
    try:
        for chunk in blobs.read_upload(upload_id):
            if keep_going is not None:
                keep_going()
            whole.update(chunk)
            view = memoryview(chunk)
            while view:
                take = view[:left]
                part_hash.update(take)
                view, left = view[len(take):], left - len(take)
                if left == 0:
                    if base64.b64encode(part_hash.digest()).decode() != parts[str(number)]["sha256"]:
                        bad_part = bad_part or number
                    number += 1
                    part_hash = hashlib.sha256()
                    left = min(part_size, size - part_size * (number - 1))
            if bad_part is not None:
                break
    except BaseException:
        whole.finish()
        raise
    if bad_part is not None:
        whole.finish()
        return "", bad_part
    return format_digest(whole.hexdigest()), None
