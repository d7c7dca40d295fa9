"""Who sits on a venue's artifact-evaluation committee.

Built on the models alone, so that the badge rules, verifications, jobs and venues can all ask without
importing one another in a circle (venues lists badge states, badges read verifications, verifications
attach to jobs)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.models import User, Venue, VenueMember


def role_in(session: Session, user: User | None, slug: str | None) -> str | None:
    """The user's role ("chair" or "reviewer") on the committee of venue ``slug``, or None."""
    if user is None or not slug:
        return None
    return session.scalar(select(VenueMember.role).join(Venue).where(Venue.slug == slug,
                                                                     VenueMember.user_id == user.id))
