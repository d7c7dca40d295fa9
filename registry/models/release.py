"""Responsible release: staged plans, anonymous review links and their uses, gated access requests."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reproreg.models.artifacts import Artifact, Version
from reproreg.models.base import Base, TimestampMixin, UTCDateTime
from reproreg.models.users import User


class ReleasePlanStep(Base):
    """The artifact reaches ``stage`` at ``due_at``; ``reached_at`` is when it did (None: not yet)."""

    __tablename__ = "release_plan_steps"
    __table_args__ = (UniqueConstraint("artifact_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    artifact: Mapped[Artifact] = relationship()


class ReviewLink(TimestampMixin, Base):
    """An anonymous, expiring link to one version. Only the SHA-256 of its secret is kept, like an API token's."""

    __tablename__ = "review_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    version: Mapped[Version] = relationship()
    uses: Mapped[list["ReviewLinkUse"]] = relationship(order_by="ReviewLinkUse.id")


class ReviewLinkUse(Base):
    """One use of a review link (a page viewed, a version document or file fetched), shown to the owner."""

    __tablename__ = "review_link_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("review_links.id"), index=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    what: Mapped[str] = mapped_column(String(200))


class AccessRequest(TimestampMixin, Base):
    """A user's request to fetch a gated artifact's files, with its stated purpose and the owner's decision."""

    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    conditions: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    artifact: Mapped[Artifact] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])


class ArtifactCollaborator(TimestampMixin, Base):
    """A user the artifact's owner named: they read its metadata and fetch its files at every stage, and change
    nothing (pushing, yanking, the stage, links, collaborators and access requests stay the owner's)."""

    __tablename__ = "artifact_collaborators"
    __table_args__ = (UniqueConstraint("artifact_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    artifact: Mapped[Artifact] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
