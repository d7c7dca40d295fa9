"""Large uploads straight to the object store: the client PUTs each part to a presigned URL, the registry checks.

The registry decides what may be stored and checks it; the object store moves the bytes. Before a client gets a
part's URL it announces the part's size and SHA-256; the SHA-256 is signed into the URL as
``x-amz-checksum-sha256``, so S3 itself refuses other bytes. S3 cannot prove a whole object's SHA-256, and an
S3-compatible store may not enforce part checksums or URL expiry, so the registry trusts none of it: completing
an upload checks each stored part's size, checksum (where the store reports one) and time against what was
announced, then streams the assembled object back and hashes it, whole and part by part. Until that matches,
the object lies under the upload's own key (``uploads/<id>/``), which is never served; only then is it copied
to its content-addressed key. Any mismatch discards the upload, bytes and all, with a stable error code.
"""

import base64
import binascii
import hashlib
import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.errors import RegistryError
from reproreg.models import MultipartUpload, UploadSession, User
from reproreg.services.uploads import _abandon, _finish, get_upload, offers_multipart
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
    does not match discards the upload (nothing of it is readable) and is refused with a stable code."""
    upload = _open(ctx, session, user, upload_id, lock=True)
    record = session.get(MultipartUpload, upload.id)
    if record is None:
        raise RegistryError("UPLOAD_INCOMPLETE", "no part of this upload was announced: ask for part URLs with "
                            f"POST /api/v1/uploads/{upload.id}/parts", missing=[])
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
    actual = _verify_assembled(ctx, session, upload, record)
    session.delete(record)
    session.flush()
    return _finish(ctx, session, upload, actual)


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


def _verify_assembled(ctx, session, upload: UploadSession, record: MultipartUpload) -> str:
    """Stream the assembled object back: its SHA-256, checking each part's against the one announced."""
    whole = PipelinedHasher()
    part_hash, number, left = hashlib.sha256(), 1, min(record.part_size, upload.size)
    for chunk in ctx.blobs.read_upload(upload.id):
        whole.update(chunk)
        view = memoryview(chunk)
        while view:
            take = view[:left]
            part_hash.update(take)
            view, left = view[len(take):], left - len(take)
            if left == 0:
                if base64.b64encode(part_hash.digest()).decode() != record.parts[str(number)]["sha256"]:
                    whole.finish()
                    raise _refuse(ctx, session, upload, "PART_CHECKSUM_MISMATCH", f"part {number} does not hash to "
                                  "the SHA-256 announced for it", part=number)
                number += 1
                part_hash = hashlib.sha256()
                left = min(record.part_size, upload.size - record.part_size * (number - 1))
    return format_digest(whole.hexdigest())
