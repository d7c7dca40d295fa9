"""Collaborators: users an artifact's owner names, who read its metadata and fetch its files at every release
stage (reproreg.services.access) and change nothing. Only the owner adds, removes and lists them; each change is
audited."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import ArtifactCollaborator, User
from reproreg.services import audit
from reproreg.services.access import owns_namespace
from reproreg.services.release import owned_artifact


def _named_user(session: Session, full_name: str, user_name: str) -> User:
    user = session.scalar(select(User).where(User.name == user_name))
    if user is None:
        raise RegistryError("NOT_FOUND", f"there is no user {user_name!r} to name a collaborator on {full_name}",
                            user=user_name)
    return user


def add(session: Session, owner: User | None, full_name: str, user_name: str) -> ArtifactCollaborator:
    """Name ``user_name`` a collaborator (naming one already named changes nothing and records nothing)."""
    artifact = owned_artifact(session, owner, full_name)
    user = _named_user(session, full_name, user_name)
    if owns_namespace(user, artifact.namespace):
        raise RegistryError("BAD_REQUEST", f"{user_name} owns {full_name}: an owner is not a collaborator",
                            name=full_name, user=user_name)
    row = session.scalar(select(ArtifactCollaborator).where(ArtifactCollaborator.artifact_id == artifact.id,
                                                            ArtifactCollaborator.user_id == user.id))
    if row is not None:
        return row
    row = ArtifactCollaborator(artifact_id=artifact.id, user_id=user.id, added_by_id=owner.id)
    session.add(row)
    audit.record(session, owner, "artifact.collaborator_add", full_name, user=user.name)
    session.flush()
    return row


def remove(session: Session, owner: User | None, full_name: str, user_name: str) -> None:
    artifact = owned_artifact(session, owner, full_name)
    row = session.scalar(select(ArtifactCollaborator).join(User, ArtifactCollaborator.user_id == User.id).where(
        ArtifactCollaborator.artifact_id == artifact.id, User.name == user_name))
    if row is None:
        raise RegistryError("NOT_FOUND", f"{user_name!r} is not a collaborator on {full_name}", name=full_name,
                            user=user_name)
    session.delete(row)
    audit.record(session, owner, "artifact.collaborator_remove", full_name, user=user_name)
    session.flush()


def collaborators_of(session: Session, owner: User | None, full_name: str) -> list[ArtifactCollaborator]:
    artifact = owned_artifact(session, owner, full_name)
    return list(session.scalars(select(ArtifactCollaborator).join(User, ArtifactCollaborator.user_id == User.id)
                                .where(ArtifactCollaborator.artifact_id == artifact.id).order_by(User.name)))


def collaborator_document(row: ArtifactCollaborator) -> dict:
    return {"user": row.user.name, "added_at": row.created_at.isoformat()}
