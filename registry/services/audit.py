"""The audit log, one hash chain (see ``reproreg.models.audit``): appending, checking, and the public part.

Every change of state is recorded with :func:`record` in the transaction of the change itself, so a change that
rolls back leaves no entry. Appends are serialised so the chain never forks: on PostgreSQL by a transaction-level
advisory lock taken before the head is read, on SQLite by taking the database's write lock (a write that changes
nothing) before the head is read. The ``seq`` column is unique besides, so two entries can never share a place.
"""

from dataclasses import dataclass, field

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, aliased

from reproreg.models import AuditEvent, User
from reproreg.models.audit import GENESIS_HASH, chain_time, details_digest, entry_hash
from reproreg.models.base import utcnow

#: the PostgreSQL advisory lock key that serialises appends to the chain (any constant; "auditlog" in ASCII)
ADVISORY_LOCK_KEY = 0x6175646974_6C6F67
#: detail keys shown to readers of an artifact's public log; others are hidden (their digest still chains)
PUBLIC_DETAIL_KEYS = frozenset({"digest", "visibility", "old", "new", "reason", "outcome", "role",
                                "verification_id", "job_id", "stage", "decision", "type", "target"})


def record(session: Session, actor: User | None, action: str, subject: str, **details) -> AuditEvent:
    """Append an audit event to the chain, in the caller's transaction (it commits with the change it
    describes). Like ``session.add`` it flushes nothing of the caller's: rows the caller added are written (and
    their constraints checked) at the caller's own flush, as before the chain existed."""
    with session.no_autoflush:
        _lock_chain(session)
        seq, prev = _head(session)
    now = utcnow()
    event = AuditEvent(actor_id=actor.id if actor else None, action=action, subject=subject, details=details,
                       created_at=now, seq=seq, prev_hash=prev,
                       entry_hash=entry_hash(seq, chain_time(now), actor.name if actor else None, action, subject,
                                             details_digest(details), prev))
    session.add(event)
    session.info[_LAST_APPENDED] = (session.get_transaction(), event)
    return event


#: the entry this transaction appended last (not flushed yet, perhaps): the head the next append follows
_LAST_APPENDED = "audit_last_appended"


def _head(session: Session) -> tuple[int, str]:
    """The next place in the chain and the hash it follows; called with the chain locked."""
    transaction, event = session.info.get(_LAST_APPENDED, (None, None))
    if event is not None and transaction is session.get_transaction() and event in session:
        return event.seq + 1, event.entry_hash
    head = session.execute(select(AuditEvent.seq, AuditEvent.entry_hash)
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (head.seq + 1, head.entry_hash) if head else (1, GENESIS_HASH)


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    else:  # SQLite: a write that changes nothing takes the write lock, which is held until the transaction ends
        session.execute(update(AuditEvent).where(AuditEvent.id < 0).values(seq=AuditEvent.seq),
                        execution_options={"synchronize_session": False})


@dataclass
class ChainReport:
    """What ``verify_chain`` found: the number of entries checked, the head, and the first break if any."""

    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    break_at: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.break_at is None

    def to_dict(self) -> dict:
        return {"intact": self.intact, "entries": self.entries, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "first_break": self.break_at}


def _rows(session: Session):
    actor = aliased(User)
    return session.execute(select(AuditEvent, actor.name).outerjoin(actor, actor.id == AuditEvent.actor_id)
                           .order_by(AuditEvent.seq, AuditEvent.id).execution_options(yield_per=1000))


def verify_chain(session: Session) -> ChainReport:
    """Recompute the whole chain in order; report the first entry where it breaks (a gap or repeat in ``seq``, a
    ``prev_hash`` that is not the previous entry's hash, or an ``entry_hash`` that does not match the entry).
    Reads in batches, so memory stays flat however long the log."""
    report = ChainReport()
    expected_seq, prev = 1, GENESIS_HASH
    for event, actor_name in _rows(session):
        report.entries += 1
        problem = None
        if event.seq != expected_seq:
            problem = (f"entry {event.seq} follows entry {expected_seq - 1}: "
                       + ("an entry is missing" if event.seq > expected_seq else "entries are repeated or reordered"))
        elif event.prev_hash != prev:
            problem = "its prev_hash is not the hash of the entry before it: an entry was removed, reordered or altered"
        else:
            computed = entry_hash(event.seq, chain_time(event.created_at), actor_name, event.action, event.subject,
                                  details_digest(event.details), event.prev_hash)
            if computed != event.entry_hash:
                problem = "its content does not match its entry_hash: the entry was altered"
        if problem:
            report.break_at = {"seq": event.seq, "id": event.id, "action": event.action, "subject": event.subject,
                               "problem": problem}
            return report
        report.head_seq, report.head_hash = event.seq, event.entry_hash
        expected_seq, prev = event.seq + 1, event.entry_hash
    return report


def contains_head(session: Session, seq: int, head_hash: str) -> bool:
    """Whether the entry ``seq`` still has the hash recorded earlier (a head kept elsewhere shows a log that was
    cut short at its end, which the chain alone cannot show)."""
    return session.scalar(select(AuditEvent.entry_hash).where(AuditEvent.seq == seq)) == head_hash


def artifact_log(session: Session, full_name: str, limit: int = 200) -> list[dict]:
    """The public part of the log for an artifact: the entries whose subject is the artifact or one of its
    versions, newest first, each with what is needed to re-check it (its hashes, its time and actor, and the
    SHA-256 of its details); details outside :data:`PUBLIC_DETAIL_KEYS` are left out. The caller decides
    whether the reader may see the artifact at all."""
    actor = aliased(User)
    rows = session.execute(
        select(AuditEvent, actor.name).outerjoin(actor, actor.id == AuditEvent.actor_id)
        .where((AuditEvent.subject == full_name) | AuditEvent.subject.startswith(f"{full_name}@", autoescape=True))
        .order_by(AuditEvent.seq.desc()).limit(limit))
    return [public_entry(event, actor_name) for event, actor_name in rows]


def public_entry(event: AuditEvent, actor_name: str | None) -> dict:
    shown = {key: value for key, value in (event.details or {}).items() if key in PUBLIC_DETAIL_KEYS}
    return {"seq": event.seq, "time": chain_time(event.created_at), "actor": actor_name, "action": event.action,
            "subject": event.subject, "details": shown,
            "details_complete": len(shown) == len(event.details or {}),
            "details_sha256": details_digest(event.details), "prev_hash": event.prev_hash,
            "entry_hash": event.entry_hash}
