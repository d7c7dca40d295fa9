from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reproreg.models.base import Base, TimestampMixin, UTCDateTime


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    #: a reference worker of the registry: its verifications run on pinned hardware for the registry itself
    is_worker: Mapped[bool] = mapped_column(Boolean, default=False)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")


class ApiToken(TimestampMixin, Base):
    """A bearer token; only the SHA-256 of the secret is stored, the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: what the token may do, space separated: ``read``, ``push:<namespace>``, ``verify``, ``admin`` (everything;
    #: the scope of tokens made before scopes existed and of tokens made without one)
    scopes: Mapped[str] = mapped_column(String(500), default="admin", server_default="admin")
    #: refused from this moment on; None: until revoked
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="tokens")


class Namespace(TimestampMixin, Base):
    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    owner: Mapped[User] = relationship()
