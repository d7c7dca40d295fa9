"""Venues and their artifact-evaluation committees (chairs and reviewers)."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import User, Venue, VenueMember
from reproreg.services import audit
from reproreg.services.auth import get_user
from reproreg.services.committees import role_in
from reproreg_schemas.names import VENUE_SLUG_RE
from reproreg_schemas.vocabulary import VenueRole, values


def create_venue(session: Session, slug: str, title: str, chair: str) -> Venue:
    if not VENUE_SLUG_RE.fullmatch(slug):
        raise RegistryError("VALIDATION_ERROR", f"venue {slug!r} must be a short slug such as neurips-2026")
    user = get_user(session, chair)
    venue = Venue(slug=slug, title=title)
    session.add(venue)
    try:
        session.flush()
    except IntegrityError:  # created meanwhile by a concurrent request
        raise RegistryError("NAME_TAKEN", f"the venue {slug!r} exists already") from None
    session.add(VenueMember(venue_id=venue.id, user_id=user.id, role=VenueRole.CHAIR))
    audit.record(session, None, "venue.create", slug, chair=chair)
    return venue


def get_venue(session: Session, slug: str) -> Venue:
    venue = session.scalar(select(Venue).where(Venue.slug == slug))
    if venue is None:
        raise RegistryError("NOT_FOUND", f"no venue {slug!r}")
    return venue


def add_member(session: Session, actor: User | None, slug: str, name: str, role: str) -> VenueMember:
    """Chairs add reviewers (and other chairs) to their venue's committee."""
    venue = get_venue(session, slug)
    if role_in(session, actor, slug) != VenueRole.CHAIR:
        raise RegistryError("FORBIDDEN", f"only a chair of {slug} can add members to its committee")
    if role not in values(VenueRole):
        raise RegistryError("VALIDATION_ERROR", f"role must be one of {', '.join(values(VenueRole))}")
    user = get_user(session, name)
    member = session.scalar(select(VenueMember).where(VenueMember.venue_id == venue.id,
                                                      VenueMember.user_id == user.id))
    if member is None:
        member = VenueMember(venue_id=venue.id, user_id=user.id, role=role)
        session.add(member)
    else:
        member.role = role
    audit.record(session, actor, "venue.member", slug, user=name, role=role)
    session.flush()
    return member


def members(venue: Venue) -> list[dict]:
    return [{"user": m.user.name, "role": m.role} for m in sorted(venue.members, key=lambda m: (m.role, m.user.name))]
