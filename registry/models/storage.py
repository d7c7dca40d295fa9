from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from reproreg.models.base import Base, TimestampMixin


class MultipartUpload(TimestampMixin, Base):
    """An upload whose parts the client sends straight to the object store, through presigned URLs.

    ``parts`` records, per part number, what the client announced before it was handed a URL (``size``,
    ``sha256`` in base64, as S3's ``x-amz-checksum-sha256``) and when the latest URL for it expires: the registry
    checks the stored parts against both before it completes the upload, then hashes the whole object."""

    __tablename__ = "multipart_uploads"

    upload_id: Mapped[str] = mapped_column(ForeignKey("upload_sessions.id", ondelete="CASCADE"), primary_key=True)
    storage_id: Mapped[str] = mapped_column(String(1024))
    part_size: Mapped[int] = mapped_column(BigInteger)
    parts: Mapped[dict] = mapped_column(JSON, default=dict)
