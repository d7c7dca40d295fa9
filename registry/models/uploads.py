from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from reproreg.models.base import Base, TimestampMixin, UTCDateTime


class UploadSession(TimestampMixin, Base):
    """A resumable upload of one blob by one user. The bytes received so far live in blob storage; a
    completed session is kept as proof that this user holds the blob's content.

    ``digest`` is declared when the session starts, or (for content hashed while it streams) when the client
    finalises it; the blob is committed only if the bytes hash to it."""

    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str | None] = mapped_column(String(71), index=True)
    fingerprint: Mapped[str | None] = mapped_column(String(71), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
