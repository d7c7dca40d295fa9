"""Online garbage collection of blob storage: mark and sweep while pushes go on.

A blob is garbage when no version references it, no upload of it finished within the grace period (a push
publishes the version right after its uploads: those blobs are about to be referenced) and no upload of it is
in progress. Each blob is collected in two short transactions, driven by the caller (the edge commits):

1. ``forget``: lock the blob's row, check again that it is garbage, delete the row. A publish that references
   the blob either committed first (the check sees it and the blob stays) or comes after: the row is gone, so
   the publish refuses the blob (BLOB_UNKNOWN) and regctl uploads it again; the foreign key from version files
   to blobs makes a version referencing a deleted row impossible on both databases.
2. ``set_aside`` the bytes (never deleted in place), then ``settle``: if a concurrent upload recorded the blob
   again meanwhile, its bytes are put back (unless the upload committed a copy of its own); else they are
   dropped for good. So a blob recorded in the database is never left without its bytes.

Unfinished uploads older than the grace period are discarded too, bytes and all, and so are upload bytes that
no upload session owns any more (a crash between storing them and recording them).
"""

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.models import Blob, UploadSession, VersionFile
from reproreg.models.base import utcnow
from reproreg.services.uploads import prune_abandoned


@dataclass
class GcReport:
    dry_run: bool = False
    blobs: list[str] = field(default_factory=list)
    bytes: int = 0
    uploads: int = 0
    kept_by_a_concurrent_upload: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (f"{verb} {len(self.blobs)} unreferenced blob(s), {self.bytes} bytes, and {self.uploads} abandoned "
                f"upload(s); {len(self.kept_by_a_concurrent_upload)} kept for a concurrent upload")

    def to_dict(self) -> dict:
        return {"dry_run": self.dry_run, "blobs": self.blobs, "bytes": self.bytes, "uploads": self.uploads,
                "kept": self.kept_by_a_concurrent_upload}


def _garbage_condition(cutoff):
    referenced = exists().where(VersionFile.blob_digest == Blob.digest)
    recent_or_open_upload = exists().where(
        UploadSession.digest == Blob.digest,
        or_(UploadSession.completed_at.is_(None), UploadSession.completed_at >= cutoff))
    return [~referenced, ~recent_or_open_upload, Blob.created_at < cutoff]


def candidates(session: Session, grace_s: float) -> list[tuple[str, int]]:
    """(digest, size) of every blob that looks like garbage now (the mark)."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    return list(session.execute(select(Blob.digest, Blob.size).where(*_garbage_condition(cutoff))
                                .order_by(Blob.digest)))


def forget(session: Session, digest: str, grace_s: float) -> bool:
    """Delete the blob's row if it is still garbage, under a lock on it; whether it was deleted."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    row = session.scalars(select(Blob).where(Blob.digest == digest, *_garbage_condition(cutoff))
                          .with_for_update()).one_or_none()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def settle(ctx: RegistryContext, session: Session, digest: str, place: str) -> bool:
    """After the bytes were set aside: drop them, or put them back when the blob was recorded again meanwhile.
    Returns whether they were dropped."""
    if session.get(Blob, digest) is not None:
        ctx.blobs.put_back(digest, place)
        return False
    ctx.blobs.drop(place)
    return True


def prune_uploads(ctx: RegistryContext, session: Session, grace_s: float) -> int:
    """Discard upload sessions unfinished after the grace period, and upload bytes no session owns."""
    count = prune_abandoned(ctx, session, int(grace_s))
    for upload_id in list(ctx.blobs.stale_uploads(grace_s)):
        if session.get(UploadSession, upload_id) is None:
            ctx.blobs.discard(upload_id)
            count += 1
    return count
