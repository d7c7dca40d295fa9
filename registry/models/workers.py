from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reproreg.models.base import Base, UTCDateTime, utcnow
from reproreg.models.users import User


class ReferenceWorker(Base):
    """A reference worker as it last registered itself: what it can run (accelerators, its GPUs) and when it was
    last seen. The registry refuses a job that no recently seen worker could run."""

    __tablename__ = "reference_workers"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: comma-separated accelerators ("cpu", "cpu,gpu")
    accelerators: Mapped[str] = mapped_column(String(100))
    gpu_model: Mapped[str | None] = mapped_column(String(200))
    #: memory of each GPU, in GB of 10^9 bytes (see reproreg_schemas.workers)
    gpu_memory_gb: Mapped[float | None] = mapped_column(Float)
    gpu_count: Mapped[int] = mapped_column(Integer, default=0)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    owner: Mapped[User] = relationship()
