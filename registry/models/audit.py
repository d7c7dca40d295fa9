"""The audit log: every state change that matters, in one hash chain anyone can re-check.

Each entry carries ``seq`` (1, 2, 3, ... with no gaps), the ``entry_hash`` of the entry before it
(``prev_hash``; :data:`GENESIS_HASH` for the first) and its own ``entry_hash``:

    entry_hash = SHA-256( RFC 8785 JSON of {"seq", "time", "actor", "action", "subject",
                                             "details_sha256", "prev_hash"} )

where ``time`` is the entry's UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``actor`` the acting user's name (or
null for the registry itself) and ``details_sha256`` the SHA-256 of the RFC 8785 JSON of the details. Hashing the
details through their own digest lets the registry show a reader only the details that are safe to show and still
give every value needed to re-check the chain. Altering, deleting or reordering a row breaks the chain at that row.
"""

import hashlib
from datetime import UTC, datetime

import rfc8785
from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from reproreg.models.base import Base, TimestampMixin

#: the ``prev_hash`` of the first entry
GENESIS_HASH = "0" * 64


class AuditEvent(TimestampMixin, Base):
    """Every state change that matters: publish, yank, visibility, tokens, users, verifications, jobs."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the entry's place in the chain: 1, 2, 3, ... without gaps (unique, so two appends can never share one)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


def chain_time(moment: datetime) -> str:
    """The entry's time as it is hashed: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def details_digest(details: dict | None) -> str:
    return hashlib.sha256(rfc8785.dumps(details or {})).hexdigest()


def entry_hash(seq: int, time: str, actor: str | None, action: str, subject: str, details_sha256: str,
               prev_hash: str) -> str:
    """The hash that chains an entry to the one before it (see the module's docstring)."""
    return hashlib.sha256(rfc8785.dumps({
        "seq": seq, "time": time, "actor": actor, "action": action, "subject": subject,
        "details_sha256": details_sha256, "prev_hash": prev_hash,
    })).hexdigest()
