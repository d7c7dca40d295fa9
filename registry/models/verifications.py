from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reproreg.models.artifacts import Version
from reproreg.models.base import Base, TimestampMixin, UTCDateTime
from reproreg.models.users import User


class SigningKey(TimestampMixin, Base):
    """The public half of a verifier's Ed25519 key."""

    __tablename__ = "signing_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: one account per key: a key registered by someone proves that someone holds it
    public_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class KeyChallenge(TimestampMixin, Base):
    """A random challenge issued to one account; registering a key means signing one, once, before it expires."""

    __tablename__ = "key_challenges"

    challenge: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Verification(TimestampMixin, Base):
    """One signed run of a version's evaluation, bound to the version digest it checked."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    verifier_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: decided at submission from the committee of that moment; see registry.services.badges
    role: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.id"))
    #: a signed report is recorded once: the same signature or the same nonce again is a replay
    signature: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    nonce: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    digest: Mapped[str] = mapped_column(String(71))
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    sandbox: Mapped[str] = mapped_column(String(32))
    hardware: Mapped[str] = mapped_column(String(300))
    accelerator_used: Mapped[str] = mapped_column(String(16))
    failure: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict] = mapped_column(JSON)

    version: Mapped[Version] = relationship()
    verifier: Mapped[User] = relationship()
    key: Mapped[SigningKey] = relationship()
