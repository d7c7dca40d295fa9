"""Typed links between artifacts (``detector-for``, ``fine-tuned-from``, ``trained-on``, ``supersedes``).

A version declares its links in its manifest (``links``); they are stored in their own table in the transaction
that publishes the version, and shown on both sides: as outgoing links of the version that declares them, and as
incoming links of the artifact they name. Both directions pass the one access check: an incoming link from an
artifact the reader cannot see is left out, and the target of an outgoing link the reader cannot see (private, or
not published yet: the two look the same) is shown without its name.
"""

import json

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from reproreg.models import Artifact, Namespace, Version, VersionLink
from reproreg.services.access import can_read, find_artifact, readable_artifact_filter


def links_declared(manifest: dict) -> list[VersionLink]:
    return [VersionLink(link_type=link["type"], target_name=link["target"]) for link in manifest.get("links") or []]


@event.listens_for(Session, "before_flush")
def _store_links_of_new_versions(session: Session, _flush_context, _instances) -> None:
    """Every newly published version's links are stored with it, whichever service publishes it."""
    for row in list(session.new):
        if isinstance(row, Version) and row.manifest and not getattr(row, "_links_stored", False):
            row._links_stored = True
            for link in links_declared(json.loads(row.manifest)):
                link.version = row
                session.add(link)


def outgoing(session: Session, user, artifact: Artifact, version: Version | None = None) -> list[dict]:
    """The links the artifact's versions declare (or only ``version``'s), in declaration order."""
    query = (select(VersionLink, Version.version).join(Version, Version.id == VersionLink.version_id)
             .where(Version.artifact_id == artifact.id).order_by(Version.id, VersionLink.id))
    if version is not None:
        query = query.where(Version.id == version.id)
    visible: dict[str, bool] = {}
    result = []
    for link, number in session.execute(query):
        if link.target_name not in visible:
            target = find_artifact(session, link.target_name)
            visible[link.target_name] = target is not None and can_read(user, target)
        shown = visible[link.target_name]
        result.append({"type": link.link_type, "version": number, "target": link.target_name if shown else None,
                       "visible": shown})
    return result


def incoming(session: Session, user, artifact: Artifact) -> list[dict]:
    """The links other artifacts' versions declare to this one, from artifacts the reader may see."""
    rows = session.execute(
        select(VersionLink.link_type, Version.version, Version.yanked_at, Namespace.name, Artifact.name)
        .join(Version, Version.id == VersionLink.version_id).join(Artifact, Artifact.id == Version.artifact_id)
        .join(Namespace, Namespace.id == Artifact.namespace_id)
        .where(VersionLink.target_name == artifact.full_name, Artifact.id != artifact.id,
               readable_artifact_filter(user))
        .order_by(Version.id, VersionLink.id))
    return [{"type": link_type, "source": f"{namespace}/{name}", "version": number, "yanked": yanked is not None}
            for link_type, number, yanked, namespace, name in rows]


def links_document(session: Session, user, artifact: Artifact) -> dict:
    return {"name": artifact.full_name, "outgoing": outgoing(session, user, artifact),
            "incoming": incoming(session, user, artifact)}
