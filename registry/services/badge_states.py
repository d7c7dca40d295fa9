"""Keeping each version's badge states (``version_states``) up to date, in the same transaction as the change
that moves them: a publish or a visibility change (:func:`refresh_artifact`), a yank (:func:`refresh_artifact`:
the latest version may change too), a verification recorded (:func:`refresh`), a blob quarantined or stored
again (:func:`refresh_digest`). A release stage change calls :func:`refresh_artifact` as well.

The rules themselves are described in ``reproreg.services.badges``. "available" is decided here from the
database alone: the artifact is public and every file's blob is recorded in ``blobs`` with the file's size and
is not quarantined (a blob found damaged or lost reaches it through ``registry storage fsck`` and the uploads
that find a stored copy unsound). Pages never ``stat`` storage to show a badge.
"""

import re
from collections.abc import Iterable

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from reproreg.models import (
    Artifact,
    AuditEvent,
    Blob,
    ChecklistAnswer,
    Namespace,
    Verification,
    Version,
    VersionFile,
    VersionState,
)
from reproreg.models.base import utcnow
from reproreg_schemas.checklist import checklist_summary
from reproreg_schemas.names import semver_key
from reproreg_schemas.vocabulary import (
    COMPLETED_OUTCOMES,
    PUBLIC_VISIBILITIES,
    TRUSTED_ROLES,
    ChecklistState,
    Outcome,
    ReproducedState,
    VerifierRole,
    values,
)

#: the audit actions reproreg.services.integrity records for a blob found damaged and for one stored again
QUARANTINE, REPAIR = "blob.quarantine", "blob.repair"
#: the columns whose change makes a new revision (and so a new ETag for the version's badges)
STATE_COLUMNS = ("yanked", "available", "functional", "reproduced", "reproduced_state", "checklist",
                 "checklist_state", "checklist_answered", "checklist_items", "claims", "trusted", "held", "failed",
                 "latest_trusted_id", "community", "metrics", "search_text")
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The lower-case words of ``text``, as search matches them."""
    return _WORD.findall(text.lower())


def is_release(version: str) -> bool:
    return "-" not in version.split("+")[0]


def compute(session: Session, version: Version) -> dict:
    """The states of ``version`` from its record, its verifications and its blobs (a few queries)."""
    recorded = session.execute(select(Verification.id, Verification.role, Verification.outcome)
                               .where(Verification.version_id == version.id)
                               .order_by(Verification.created_at, Verification.id)).all()
    trusted = [v for v in recorded if v.role in TRUSTED_ROLES]
    completed = [v for v in trusted if v.outcome in COMPLETED_OUTCOMES]
    latest = completed[-1] if completed else None
    claims = version.claims
    if latest is None or not claims:  # with no claims there is nothing to reproduce
        reproduced = ReproducedState.NOT_VERIFIED
    else:
        reproduced = ReproducedState.REPRODUCED if latest.outcome == Outcome.REPRODUCED else ReproducedState.FAILED
    artifact = version.artifact
    available = artifact.visibility in PUBLIC_VISIBILITIES and _blobs_present(session, version)
    answered = session.scalars(select(ChecklistAnswer.item).where(ChecklistAnswer.version_id == version.id))
    summary = checklist_summary(answered, version.checklist_warnings or [])
    community = [v for v in recorded if v.role == VerifierRole.COMMUNITY]
    metrics = sorted({claim.metric for claim in claims})
    paper_title = (version.paper or {}).get("title") or ""
    searched = " ".join((artifact.full_name, version.title, paper_title, version.venue or "", *metrics))
    return {
        "yanked": version.yanked_at is not None,
        "available": available,
        "functional": bool(completed),
        "reproduced": reproduced == ReproducedState.REPRODUCED,
        "reproduced_state": str(reproduced),
        "checklist": summary["state"] == ChecklistState.COMPLETE,
        "checklist_state": str(summary["state"]),
        "checklist_answered": summary["answered"],
        "checklist_items": summary["items"],
        "claims": len(claims),
        "trusted": len(trusted),
        "held": sum(v.outcome == Outcome.REPRODUCED for v in completed),
        "failed": sum(v.outcome == Outcome.CLAIM_FAILED for v in completed),
        "latest_trusted_id": latest.id if latest else None,
        "community": community_counts(v.outcome for v in community),
        "metrics": metrics,
        "search_text": searched.lower() + " " + " ".join(words(searched)),
    }


def community_counts(outcomes: Iterable[str]) -> dict:
    """How many community reports there are and what they found; shown, never a badge."""
    found = list(outcomes)
    return {"reports": len(found), **{outcome: sum(o == outcome for o in found) for outcome in values(Outcome)}}


def _blobs_present(session: Session, version: Version) -> bool:
    rows = session.execute(select(VersionFile.blob_digest, VersionFile.size, Blob.size.label("stored"))
                           .outerjoin(Blob, Blob.digest == VersionFile.blob_digest)
                           .where(VersionFile.version_id == version.id)).all()
    if any(row.stored is None or row.stored != row.size for row in rows):
        return False
    return not _quarantined(session, {row.blob_digest for row in rows})


def _quarantined(session: Session, digests: set[str]) -> set[str]:
    """The digests among ``digests`` whose latest quarantine was not followed by a repair."""
    if not digests:
        return set()
    latest: dict[str, str] = {}
    for subject, action in session.execute(select(AuditEvent.subject, AuditEvent.action)
                                           .where(AuditEvent.action.in_((QUARANTINE, REPAIR)),
                                                  AuditEvent.subject.in_(digests))
                                           .order_by(AuditEvent.id)):
        latest[subject] = action
    return {digest for digest, action in latest.items() if action == QUARANTINE}


def refresh(session: Session, version: Version) -> VersionState:
    """Recompute and store the states of ``version``; a new revision when any of them changed. The row is locked
    first, so that two transactions that change the same version's states one after the other both count."""
    row = session.scalars(select(VersionState).where(VersionState.version_id == version.id)
                          .with_for_update().execution_options(populate_existing=True)).one_or_none()
    states = compute(session, version)
    if row is None:
        row = VersionState(version_id=version.id, artifact_id=version.artifact_id, revision=1, latest=False,
                           rank=0, updated_at=utcnow(), search_vector=search_vector(session, states["search_text"]),
                           **states)
        session.add(row)
    elif any(getattr(row, column) != states[column] for column in STATE_COLUMNS):
        if row.search_text != states["search_text"]:
            row.search_vector = search_vector(session, states["search_text"])
        for column, value in states.items():
            setattr(row, column, value)
        row.revision += 1
        row.updated_at = utcnow()
    session.flush()
    return row


def search_vector(session: Session, search_text: str):
    """What ``version_states.search_vector`` holds for ``search_text``: its tsvector on PostgreSQL (computed by the
    database as the row is written), None elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return func.to_tsvector(literal_column("'simple'::regconfig"), search_text)


def refresh_artifact(session: Session, artifact: Artifact) -> None:
    """Recompute the states of every version of ``artifact``, which of them is the latest and their order (after
    a publish, a yank, a visibility or release stage change)."""
    versions = sorted(session.scalars(select(Version).where(Version.artifact_id == artifact.id)),
                      key=lambda v: semver_key(v.version), reverse=True)
    candidates = [v for v in versions if v.yanked_at is None]
    latest = ([v for v in candidates if is_release(v.version)] or candidates or [None])[0]
    for rank, version in enumerate(versions):
        row = refresh(session, version)
        row.rank, row.latest = rank, version is latest
    session.flush()


def refresh_digest(session: Session, digest: str) -> int:
    """Recompute the states of every version holding blob ``digest`` (after it was quarantined or stored again);
    returns how many."""
    ids = session.scalars(select(VersionFile.version_id).where(VersionFile.blob_digest == digest).distinct()).all()
    for start in range(0, len(ids), 500):
        for version in session.scalars(select(Version).where(Version.id.in_(ids[start:start + 500]))):
            refresh(session, version)
    return len(ids)


def refresh_all(session: Session, missing_only: bool = False) -> int:
    """Recompute every artifact's versions (or only artifacts with a version that has no states yet); returns how
    many artifacts were refreshed. Used to fill ``version_states`` for versions published before it existed."""
    query = select(Artifact).join(Namespace).order_by(Artifact.id)
    if missing_only:
        stateless = (select(Version.artifact_id).outerjoin(VersionState, VersionState.version_id == Version.id)
                     .where(VersionState.version_id.is_(None)))
        query = query.where(Artifact.id.in_(stateless))
    count = 0
    for artifact in session.scalars(query).all():
        refresh_artifact(session, artifact)
        count += 1
    return count
