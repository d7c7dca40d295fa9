"""Typed links that versions declare to other artifacts (``links`` in the manifest)."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reproreg.models.artifacts import Version
from reproreg.models.base import Base


class VersionLink(Base):
    """``version`` declares ``link_type`` to the artifact named ``target_name`` (``namespace/name``). The target
    is kept by name and resolved when read, so a link may name an artifact published later."""

    __tablename__ = "version_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    link_type: Mapped[str] = mapped_column(String(32))
    target_name: Mapped[str] = mapped_column(String(141), index=True)

    version: Mapped[Version] = relationship()
