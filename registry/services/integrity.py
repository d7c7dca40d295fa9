"""Stored blobs checked against their digests: `registry storage fsck` re-hashes every stored blob and quarantines
the damaged ones; uploads re-check a stored copy they meet (see ``uploads``).

A quarantined blob is absent from storage and recorded as such in the audit log (``blob.quarantine``). Nobody
holds it any more, so the missing-blob query asks for it again: the next upload of its bytes commits it anew
(``blob.repair``) and the versions that use it are served again.
"""

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.models import AuditEvent, Blob, User
from reproreg.services import audit, badge_states
from reproreg.storage import BlobStore
from reproreg_schemas.digests import PipelinedHasher, format_digest

QUARANTINE = "blob.quarantine"
REPAIR = "blob.repair"


def hash_stored(blobs: BlobStore, digest: str) -> str:
    """The digest of the bytes stored as ``digest``, read in chunks (memory stays flat)."""
    hasher = PipelinedHasher()
    for chunk in blobs.read(digest):
        hasher.update(chunk)
    return format_digest(hasher.hexdigest())


def stored_copy_is_sound(blobs: BlobStore, digest: str, size: int) -> bool:
    """Whether the stored copy has the size and hashes to the digest (a size mismatch needs no hashing)."""
    return blobs.size(digest) == size and hash_stored(blobs, digest) == digest


def quarantined_digests(session: Session, digests: Iterable[str]) -> set[str]:
    """The digests among ``digests`` whose stored copy was quarantined and has not been uploaded again."""
    wanted = set(digests)
    if not wanted:
        return set()
    rows = session.execute(select(AuditEvent.subject, AuditEvent.action)
                           .where(AuditEvent.action.in_((QUARANTINE, REPAIR)), AuditEvent.subject.in_(wanted))
                           .order_by(AuditEvent.id))
    latest = {subject: action for subject, action in rows}  # later events overwrite earlier ones
    return {digest for digest, action in latest.items() if action == QUARANTINE}


def record_repair(session: Session, actor: User | None, digest: str, reason: str) -> None:
    audit.record(session, actor, REPAIR, digest, reason=reason)
    badge_states.refresh_digest(session, digest)


@dataclass
class FsckReport:
    checked: int = 0
    bytes_checked: int = 0
    #: damaged blobs found by this run: digest, size, what the bytes hash to, where they were quarantined
    damaged: list[dict] = field(default_factory=list)
    #: blobs the database knows that are absent from storage without having been quarantined
    missing: list[str] = field(default_factory=list)
    #: blobs quarantined earlier whose bytes nobody has uploaded again yet
    awaiting_upload: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        return not (self.damaged or self.missing or self.awaiting_upload)

    def summary(self) -> str:
        return (f"checked {self.checked} blob(s), {self.bytes_checked} bytes: {len(self.damaged)} damaged, "
                f"{len(self.missing)} missing, {len(self.awaiting_upload)} quarantined earlier and awaiting upload")

    def to_dict(self) -> dict:
        return {"checked": self.checked, "bytes_checked": self.bytes_checked, "sound": self.sound,
                "damaged": self.damaged, "missing": self.missing, "awaiting_upload": self.awaiting_upload}


def sampled(digests: Iterable[str], count: int, rng: random.Random | None = None) -> list[str]:
    """``count`` digests drawn uniformly at random from a walk of the store, holding only those in memory
    (reservoir sampling)."""
    rng = rng or random.SystemRandom()
    chosen: list[str] = []
    for seen, digest in enumerate(digests):
        if seen < count:
            chosen.append(digest)
        elif (slot := rng.randrange(seen + 1)) < count:
            chosen[slot] = digest
    return sorted(chosen)


def fsck(ctx: RegistryContext, session: Session, quarantine: bool = True, sample: int | None = None) -> FsckReport:
    """Re-hash every stored blob (or a random ``sample`` of them); quarantine (unless told not to) each one whose
    bytes do not match its digest, then list the blobs the database knows that storage lacks."""
    report = FsckReport()
    walk: Iterator[str] | list[str] = ctx.blobs.digests() if sample is None else sampled(ctx.blobs.digests(), sample)
    for digest in walk:
        size = ctx.blobs.size(digest)
        if size is None:  # removed while the walk ran
            continue
        try:
            actual = hash_stored(ctx.blobs, digest)
        except OSError as err:  # an unreadable copy is as damaged as a wrong one
            actual = f"unreadable ({err.strerror or err})"
        report.checked += 1
        report.bytes_checked += size
        if actual != digest:
            report.damaged.append(_damaged(ctx, session, digest, size, actual, quarantine))
    _find_absent(ctx, session, report)
    return report


def _damaged(ctx: RegistryContext, session: Session, digest: str, size: int, actual: str,
             quarantine: bool) -> dict:
    row = session.get(Blob, digest)
    entry = {"digest": digest, "size": size, "expected_size": row.size if row else None, "actual": actual,
             "quarantined_at": None}
    if quarantine:
        entry["quarantined_at"] = ctx.blobs.quarantine(digest)
        audit.record(session, None, QUARANTINE, digest, actual=actual, size=size, location=entry["quarantined_at"])
        badge_states.refresh_digest(session, digest)
    return entry


def _find_absent(ctx: RegistryContext, session: Session, report: FsckReport, batch: int = 1000) -> None:
    absent: list[str] = []
    for digest in session.scalars(select(Blob.digest).order_by(Blob.digest).execution_options(yield_per=batch)):
        if not ctx.blobs.exists(digest):
            absent.append(digest)
    quarantined = set()
    for start in range(0, len(absent), batch):
        quarantined |= quarantined_digests(session, absent[start:start + batch])
    just_quarantined = {entry["digest"] for entry in report.damaged}
    report.missing = [digest for digest in absent if digest not in quarantined]
    report.awaiting_upload = [digest for digest in absent if digest in quarantined and digest not in just_quarantined]
