from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reproreg.models.artifacts import Version
from reproreg.models.base import Base, TimestampMixin, UTCDateTime
from reproreg.models.users import User
from reproreg_schemas.vocabulary import JobState

#: how many leases a job gets before it fails (a worker that dies mid-job loses its lease; the job runs again)
DEFAULT_MAX_ATTEMPTS = 3


class VerificationJob(TimestampMixin, Base):
    """A verification the registry asked its reference workers to run. The row is the job's truth; broker
    messages only trigger it. A worker holds it through a lease (token + expiry) that heartbeats extend."""

    __tablename__ = "verification_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accelerator: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True, default=JobState.QUEUED.value)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_ATTEMPTS)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hardware: Mapped[str | None] = mapped_column(String(300))
    log: Mapped[str] = mapped_column(Text, default="")
    failure: Mapped[str | None] = mapped_column(Text)
    verification_id: Mapped[int | None] = mapped_column(ForeignKey("verifications.id"))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    version: Mapped[Version] = relationship()
    requested_by: Mapped[User] = relationship()
