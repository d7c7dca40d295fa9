from sqlalchemy.orm import Session

from reproreg.models import AuditEvent, User


def record(session: Session, actor: User | None, action: str, subject: str, **details) -> AuditEvent:
    """Add an audit event to the caller's transaction (it commits with the change it describes)."""
    event = AuditEvent(actor_id=actor.id if actor else None, action=action, subject=subject, details=details)
    session.add(event)
    return event
