"""Who may see and change what. Visibility is consulted here and nowhere else."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import Artifact, Namespace, User
from reproreg_schemas.vocabulary import PUBLIC_VISIBILITIES


def owns_namespace(user: User | None, namespace: Namespace) -> bool:
    return user is not None and namespace.owner_id == user.id


def can_read(user: User | None, artifact: Artifact) -> bool:
    return artifact.visibility in PUBLIC_VISIBILITIES or owns_namespace(user, artifact.namespace)


def readable_artifact_filter(user: User | None):
    """A SQL condition equal to :func:`can_read`, for queries over many artifacts."""
    condition = Artifact.visibility.in_(PUBLIC_VISIBILITIES)
    if user is not None:
        owned = select(Namespace.id).where(Namespace.owner_id == user.id)
        condition = condition | Artifact.namespace_id.in_(owned)
    return condition


def split_name(full_name: str) -> tuple[str, str]:
    namespace, _, name = full_name.partition("/")
    return namespace, name


def find_artifact(session: Session, full_name: str) -> Artifact | None:
    namespace, name = split_name(full_name)
    return session.scalar(
        select(Artifact).join(Namespace).where(Namespace.name == namespace, Artifact.name == name)
    )


def readable_artifact(session: Session, user: User | None, full_name: str) -> Artifact:
    """The artifact if ``user`` may read it; NOT_FOUND otherwise, so private names do not leak."""
    artifact = find_artifact(session, full_name)
    if artifact is None or not can_read(user, artifact):
        raise RegistryError("NOT_FOUND", f"no artifact named {full_name!r} is visible to you; check the name, "
                            "or log in (regctl login) as a user who may read it", name=full_name)
    return artifact


def writable_namespace(session: Session, user: User | None, namespace_name: str) -> Namespace:
    if user is None:
        raise RegistryError("UNAUTHORIZED", "pushing needs a token: run 'regctl login' or set REGCTL_TOKEN")
    namespace = session.scalar(select(Namespace).where(Namespace.name == namespace_name))
    if namespace is None or not owns_namespace(user, namespace):
        raise RegistryError("FORBIDDEN", f"user {user.name!r} cannot push into namespace {namespace_name!r}; "
                            f"push into your own namespace, e.g. '{user.name}/...'", namespace=namespace_name)
    return namespace
