from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from reproreg.models.base import Base, TimestampMixin, UTCDateTime

#: parts are being sent; the client completes the upload when they are all stored
RECEIVING = "receiving"
#: assembled in the store, waiting for (or under) a verification job; nothing of it is readable yet
VERIFYING = "verifying"
#: the verification found a mismatch: the bytes are deleted, ``outcome`` holds the error the client is told
FAILED = "failed"


class MultipartUpload(TimestampMixin, Base):
    """An upload whose parts the client sends straight to the object store, through presigned URLs.

    ``parts`` records, per part number, what the client announced before it was handed a URL (``size``,
    ``sha256`` in base64, as S3's ``x-amz-checksum-sha256``) and when the latest URL for it expires: the registry
    checks the stored parts against both before it completes the upload, then hashes the whole object.

    A large upload is hashed by a job after completion (``status`` verifying): the job holds a lease
    (``lease_owner`` until ``lease_expires_at``, renewed while it reads), so one process verifies it at a time and
    another takes it up once a crashed one's lease has expired. A failed verification keeps the row, with the
    error in ``outcome``, so that the client polling the upload learns why."""

    __tablename__ = "multipart_uploads"

    upload_id: Mapped[str] = mapped_column(ForeignKey("upload_sessions.id", ondelete="CASCADE"), primary_key=True)
    storage_id: Mapped[str] = mapped_column(String(1024))
    part_size: Mapped[int] = mapped_column(BigInteger)
    parts: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=RECEIVING, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[dict | None] = mapped_column(JSON)
