"""Who may see and change what. The release stage is consulted here and nowhere else.

Two questions, one place: who may *read* an artifact (its pages, documents, claims, verifications, badges, and
its place in search, venue listings and exports), and who may *fetch* its files' bytes.

| stage   | read                             | fetch files                                |
| ------- | -------------------------------- | ------------------------------------------ |
| private | the owner, collaborators         | the owner, collaborators                   |
| review  | the owner, collaborators,        | the owner, collaborators, reference        |
|         | reference workers                | workers                                    |
|         | (+ review links)                 | (+ review links)                           |
| gated   | everyone                         | the owner, collaborators, reference        |
|         |                                  | workers, users whose request is approved   |
| public  | everyone                         | everyone                                   |

Collaborators are the users the owner named for the artifact (reproreg.services.collaborators); they read and
fetch at every stage and change nothing.

Reference workers (the registry's own accounts) see an artifact from the review stage on, so that its claims,
bias evaluations included, can be verified before it is released further (the ethics gate asks for that).

A review link reaches one version through its own routes (``/review/<secret>``), anonymised; it is honoured at
every stage but private (see reproreg.services.review_links).
"""

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from reproreg.errors import RegistryError
from reproreg.models import AccessRequest, Artifact, ArtifactCollaborator, Namespace, User
from reproreg_schemas.vocabulary import METADATA_PUBLIC_STAGES, AccessRequestState, ReleaseStage


def owns_namespace(user: User | None, namespace: Namespace) -> bool:
    return user is not None and namespace.owner_id == user.id


def can_read(user: User | None, artifact: Artifact) -> bool:
    return artifact.visibility in METADATA_PUBLIC_STAGES or owns_namespace(user, artifact.namespace) \
        or (_is_worker(user) and artifact.visibility == ReleaseStage.REVIEW) \
        or is_collaborator(object_session(artifact), user, artifact)


def is_collaborator(session: Session | None, user: User | None, artifact: Artifact) -> bool:
    """Whether the owner named ``user`` a collaborator on ``artifact`` (one indexed lookup)."""
    if user is None or session is None or artifact.id is None:
        return False
    return session.scalar(select(ArtifactCollaborator.id).where(
        ArtifactCollaborator.artifact_id == artifact.id, ArtifactCollaborator.user_id == user.id).limit(1)) is not None


def _is_worker(user: User | None) -> bool:
    return user is not None and bool(user.is_worker)


def can_fetch(session: Session, user: User | None, artifact: Artifact) -> bool:
    """Whether ``user`` may download the artifact's files (see the table above)."""
    if artifact.visibility == ReleaseStage.PUBLIC or owns_namespace(user, artifact.namespace):
        return True
    if _is_worker(user) and artifact.visibility != ReleaseStage.PRIVATE:
        return True
    if is_collaborator(session, user, artifact):
        return True
    return artifact.visibility == ReleaseStage.GATED and user is not None and approved(session, user, artifact)


def approved(session: Session, user: User, artifact: Artifact) -> bool:
    return session.scalar(select(AccessRequest.id).where(
        AccessRequest.artifact_id == artifact.id, AccessRequest.requester_id == user.id,
        AccessRequest.state == AccessRequestState.APPROVED).limit(1)) is not None


def fetchable_artifact(session: Session, user: User | None, full_name: str) -> Artifact:
    """The artifact if ``user`` may fetch its files. Unreadable: NOT_FOUND, as for reading; readable but gated:
    ACCESS_REQUIRED, which says how to ask."""
    artifact = readable_artifact(session, user, full_name)
    if not can_fetch(session, user, artifact):
        raise RegistryError("ACCESS_REQUIRED", f"{full_name} is gated: its files are given to users whose request "
                            f"the owner approved; ask with: regctl access request {full_name} --purpose '...'",
                            name=full_name)
    return artifact


def readable_artifact_filter(user: User | None):
    """A SQL condition equal to :func:`can_read`, for queries over many artifacts."""
    condition = Artifact.visibility.in_([str(stage) for stage in METADATA_PUBLIC_STAGES])
    if user is not None:
        owned = select(Namespace.id).where(Namespace.owner_id == user.id)
        condition = condition | Artifact.namespace_id.in_(owned)
        named = select(ArtifactCollaborator.id).where(ArtifactCollaborator.artifact_id == Artifact.id,
                                                      ArtifactCollaborator.user_id == user.id)
        condition = condition | named.exists()
    if _is_worker(user):
        condition = condition | (Artifact.visibility == ReleaseStage.REVIEW.value)
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
