"""Finding entries: search by name, title, venue, metric and badge state; the most recent versions; a venue's
entries, filtered by badge state and exported."""

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.errors import RegistryError
from reproreg.models import Artifact, Claim, Namespace, User, Version
from reproreg.services.access import readable_artifact_filter
from reproreg.services.badges import badge_states
from reproreg.services.versions import latest_version
from reproreg_schemas.names import semver_key
from reproreg_schemas.vocabulary import ReproducedState

PAGE_SIZE = 50


def _entry(ctx: RegistryContext, session: Session, version: Version) -> dict:
    return {**badge_states(ctx, session, version), "title": version.title, "venue": version.venue,
            "published_at": version.published_at, "metrics": sorted({c.metric for c in version.claims})}


def search(ctx: RegistryContext, session: Session, user: User | None, text: str = "", venue: str = "",
           metric: str = "", state: str = "") -> list[dict]:
    """The latest readable version of each matching artifact."""
    query = select(Artifact).join(Namespace).where(readable_artifact_filter(user))
    if text:
        pattern = f"%{text.strip().lower()}%"
        titled = select(Version.artifact_id).where(func.lower(Version.title).like(pattern))
        query = query.where(or_(func.lower(Namespace.name + "/" + Artifact.name).like(pattern),
                                Artifact.id.in_(titled)))
    if venue:
        query = query.where(Artifact.id.in_(select(Version.artifact_id).where(Version.venue == venue)))
    if metric:
        measured = select(Version.artifact_id).join(Claim).where(func.lower(Claim.metric) == metric.lower())
        query = query.where(Artifact.id.in_(measured))
    entries = []
    for artifact in session.scalars(query.order_by(Namespace.name, Artifact.name).limit(PAGE_SIZE * 4)):
        version = latest_version(session, artifact)
        if version is not None:
            entries.append(_entry(ctx, session, version))
    return filter_by_state(entries, state)[:PAGE_SIZE]


def recent(ctx: RegistryContext, session: Session, user: User | None, limit: int = 10) -> list[dict]:
    rows = session.scalars(select(Version).join(Artifact).where(readable_artifact_filter(user),
                                                                Version.yanked_at.is_(None))
                           .order_by(Version.published_at.desc()).limit(limit))
    return [_entry(ctx, session, version) for version in rows]


def venue_entries(ctx: RegistryContext, session: Session, user: User | None, slug: str) -> list[dict]:
    """Every version naming the venue that ``user`` may read, newest version first per artifact."""
    rows = session.scalars(select(Version).join(Artifact).where(Version.venue == slug,
                                                                readable_artifact_filter(user)))
    rows = sorted(rows, key=lambda v: semver_key(v.version), reverse=True)
    entries = []
    for version in sorted(rows, key=lambda v: v.artifact.full_name):
        states = badge_states(ctx, session, version)
        entries.append({**states, "title": version.title, "published_at": version.published_at,
                        "license": version.license})
    return entries


STATE_FILTERS = {
    "available": lambda e: e["available"],
    "functional": lambda e: e["functional"],
    "reproduced": lambda e: e["reproduced"],
    "failed": lambda e: e["reproduced_state"] == ReproducedState.FAILED,
    "not-verified": lambda e: e["reproduced_state"] == ReproducedState.NOT_VERIFIED,
    "checklist": lambda e: e["checklist"],
}


def filter_by_state(entries: list[dict], state: str | None) -> list[dict]:
    if not state:
        return entries
    if state not in STATE_FILTERS:
        raise RegistryError("VALIDATION_ERROR", f"state must be one of {', '.join(STATE_FILTERS)}")
    return [entry for entry in entries if STATE_FILTERS[state](entry)]


EXPORT_COLUMNS = ("name", "version", "digest", "title", "url", "available", "functional", "reproduced",
                  "reproduced_state", "checklist", "yanked", "published_at")
