from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reproreg.models.base import Base, TimestampMixin
from reproreg.models.users import User

#: the role strings, as reproreg.services.venues imports them (VenueRole is their home)


class Venue(TimestampMixin, Base):
    """A conference or journal whose versions name it (``paper.venue``); its members form the
    artifact-evaluation committee."""

    __tablename__ = "venues"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(200))

    members: Mapped[list["VenueMember"]] = relationship(back_populates="venue")


class VenueMember(TimestampMixin, Base):
    __tablename__ = "venue_members"
    __table_args__ = (UniqueConstraint("venue_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: a VenueRole
    role: Mapped[str] = mapped_column(String(16))

    venue: Mapped[Venue] = relationship(back_populates="members")
    user: Mapped[User] = relationship()
