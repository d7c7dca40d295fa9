"""Gated access: a user asks for a gated artifact's files with a stated purpose; its owner approves (optionally
with conditions) or denies. Every request and decision is kept, audited and shown to the owner."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import AccessRequest, User
from reproreg.models.base import utcnow
from reproreg.services import audit
from reproreg.services.access import owns_namespace, readable_artifact
from reproreg.services.release import owned_artifact
from reproreg_schemas.vocabulary import AccessRequestState, ReleaseStage


def request_access(session: Session, user: User | None, full_name: str, purpose: str) -> AccessRequest:
    if user is None:
        raise RegistryError("UNAUTHORIZED", "requesting access needs an account: run 'regctl login'")
    artifact = readable_artifact(session, user, full_name)
    if artifact.visibility != ReleaseStage.GATED or owns_namespace(user, artifact.namespace):
        raise RegistryError("BAD_REQUEST", f"{full_name} is {artifact.visibility}, not gated: there is no access "
                            "to request", name=full_name, stage=artifact.visibility)
    pending = session.scalar(select(AccessRequest).where(
        AccessRequest.artifact_id == artifact.id, AccessRequest.requester_id == user.id,
        AccessRequest.state.in_([AccessRequestState.PENDING, AccessRequestState.APPROVED])).limit(1))
    if pending is not None:
        return pending
    row = AccessRequest(artifact_id=artifact.id, requester_id=user.id, purpose=purpose,
                        state=AccessRequestState.PENDING)
    session.add(row)
    session.flush()
    audit.record(session, user, "access.request", full_name, request=row.id)
    return row


def requests_of(session: Session, user: User | None, full_name: str) -> list[AccessRequest]:
    """The owner sees every request; anyone else sees their own."""
    if user is None:
        raise RegistryError("UNAUTHORIZED", "listing access requests needs an account: run 'regctl login'")
    artifact = readable_artifact(session, user, full_name)
    query = select(AccessRequest).where(AccessRequest.artifact_id == artifact.id).order_by(AccessRequest.id)
    if not owns_namespace(user, artifact.namespace):
        query = query.where(AccessRequest.requester_id == user.id)
    return list(session.scalars(query))


def decide(session: Session, user: User | None, full_name: str, request_id: int, approve: bool,
           conditions: str | None = None) -> AccessRequest:
    artifact = owned_artifact(session, user, full_name)
    row = session.get(AccessRequest, request_id)
    if row is None or row.artifact_id != artifact.id:
        raise RegistryError("NOT_FOUND", f"{full_name} has no access request {request_id}", request=request_id)
    row.state = AccessRequestState.APPROVED if approve else AccessRequestState.DENIED
    row.conditions = conditions
    row.decided_by_id = user.id
    row.decided_at = utcnow()
    audit.record(session, user, "access.approve" if approve else "access.deny", full_name, request=row.id,
                 requester=row.requester.name)
    session.flush()
    return row


def request_document(row: AccessRequest) -> dict:
    return {"id": row.id, "name": row.artifact.full_name, "requester": row.requester.name, "purpose": row.purpose,
            "state": row.state, "conditions": row.conditions, "created_at": row.created_at.isoformat(),
            "decided_at": row.decided_at.isoformat() if row.decided_at else None}
