from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from reproreg.models.base import Base, TimestampMixin


class AuditEvent(TimestampMixin, Base):
    """Every state change that matters: publish, yank, visibility, tokens, users."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
