"""Anonymous review links: an expiring secret that shows one version to whoever holds it, without an account and
without the owner's, namespace's or authors' names (double-blind review). Only the secret's SHA-256 is stored;
every use is recorded for the owner."""

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import ReviewLink, ReviewLinkUse, User, Version
from reproreg.models.base import utcnow
from reproreg.services import audit
from reproreg.services.release import owned_artifact
from reproreg.services.versions import resolve_version
from reproreg_schemas.vocabulary import ReleaseStage

SECRET_PREFIX = "rvw_"
MAX_DAYS = 366
#: what replaces a removed name in an anonymised document
ANONYMOUS = "anonymous"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(session: Session, user: User | None, full_name: str, reference: str, days: int,
           now: datetime | None = None) -> tuple[ReviewLink, str]:
    """A new link to ``full_name@reference`` valid for ``days``; returns it and its secret (shown once)."""
    artifact = owned_artifact(session, user, full_name)
    if not 1 <= days <= MAX_DAYS:
        raise RegistryError("BAD_REQUEST", f"a review link lasts 1 to {MAX_DAYS} days, not {days}", days=days)
    version = resolve_version(session, artifact, reference)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    link = ReviewLink(version_id=version.id, secret_hash=_hash(secret), created_by_id=user.id,
                      expires_at=(now or utcnow()) + timedelta(days=days))
    session.add(link)
    session.flush()
    audit.record(session, user, "review_link.create", f"{full_name}@{version.version}", link=link.id,
                 expires_at=link.expires_at.isoformat())
    return link, secret


def links_of(session: Session, user: User | None, full_name: str) -> list[ReviewLink]:
    artifact = owned_artifact(session, user, full_name)
    return list(session.scalars(select(ReviewLink).join(Version).where(Version.artifact_id == artifact.id)
                                .order_by(ReviewLink.id)))


def revoke(session: Session, user: User | None, full_name: str, link_id: int) -> ReviewLink:
    link = next((link for link in links_of(session, user, full_name) if link.id == link_id), None)
    if link is None:
        raise RegistryError("NOT_FOUND", f"{full_name} has no review link {link_id}", link=link_id)
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        audit.record(session, user, "review_link.revoke", full_name, link=link.id)
    return link


def holder_version(session: Session, secret: str, now: datetime | None = None) -> tuple[ReviewLink, Version]:
    """The version a review link shows; REVIEW_LINK_INVALID for an unknown, expired or revoked
    link, or once the artifact is private again (every case alike, so a guess learns nothing)."""
    now = now or utcnow()
    link = session.scalar(select(ReviewLink).where(ReviewLink.secret_hash == _hash(secret))) \
        if secret.startswith(SECRET_PREFIX) else None
    if link is None or link.revoked_at is not None or link.expires_at <= now \
            or link.version.artifact.visibility == ReleaseStage.PRIVATE:
        raise RegistryError("REVIEW_LINK_INVALID", "this review link is unknown, expired or revoked; ask the "
                            "authors (through the venue) for a new one")
    return link, link.version


def record_use(session: Session, link_id: int, what: str, now: datetime | None = None) -> None:
    """Record one use of a link (the reading request's own transaction is read-only: call it in a short one)."""
    session.add(ReviewLinkUse(link_id=link_id, used_at=now or utcnow(), what=what[:200]))


def link_document(link: ReviewLink) -> dict:
    return {"id": link.id, "version": link.version.version, "created_at": link.created_at.isoformat(),
            "expires_at": link.expires_at.isoformat(),
            "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
            "uses": [{"at": use.used_at.isoformat(), "what": use.what} for use in link.uses]}


def opaque_name(link: ReviewLink) -> str:
    """The name a review link's version goes by: stable for the link, revealing nothing."""
    return f"{ANONYMOUS}/submission-{_hash(f'review-link:{link.id}:{link.secret_hash}')[:12]}"


#: fields whose values identify content rather than people: rewriting them would break what the holder checks or
#: runs (a path the evaluation opens, a digest, a metric a claim is judged on); the author keeps names out of them
KEPT_AS_SIGNED = frozenset({"path", "sha256", "size", "metric"})


def anonymised(value, names: list[str], replacement: str):
    """``value`` (a document: dicts, lists, text) with every name in ``names`` replaced where it stands as a word
    of its own (``ab`` in ``ab/model`` or ``by ab.``, never inside ``abc`` or a hex digest), in any letter case,
    and with ``authors`` entries removed. The one place that strips identities, for the API, pages and pulled
    files."""
    patterns = [re.compile(rf"(?<![0-9A-Za-z]){re.escape(name)}(?![0-9A-Za-z])", re.IGNORECASE)
                for name in sorted(set(filter(None, names)), key=len, reverse=True)]

    def scrub(item):
        if isinstance(item, dict):
            return {key: inner if key in KEPT_AS_SIGNED else scrub(inner)
                    for key, inner in item.items() if key not in ("authors", "author")}
        if isinstance(item, list):
            return [scrub(inner) for inner in item]
        if isinstance(item, str):
            for pattern in patterns:
                item = pattern.sub(replacement, item)
        return item

    return scrub(value)


def identities(version: Version) -> list[str]:
    """The names a reader must not see: the artifact's full name, its namespace, its owner and the publisher."""
    artifact = version.artifact
    namespace = artifact.namespace
    return [artifact.full_name, namespace.name, namespace.owner.name if namespace.owner else None,
            version.published_by.name]


def review_document(link: ReviewLink, version: Version, base_url: str, secret: str) -> dict:
    """What a review link's holder sees of its version: the version document (manifest included) under an opaque
    name, with no owner, namespace, publisher or author names anywhere."""
    opaque = opaque_name(link)
    manifest = anonymised(json.loads(version.manifest), identities(version), ANONYMOUS)
    manifest["name"] = opaque
    # where the paper and the code live names their authors as surely as a name does
    for section, key in (("paper", "url"), ("training", "code")):
        if isinstance(manifest.get(section), dict):
            manifest[section].pop(key, None)
    document = {
        "name": opaque, "version": version.version, "digest": version.digest,
        "visibility": version.artifact.visibility, "published_at": version.published_at.isoformat(),
        "yanked": version.yanked_at is not None, "yank_reason": version.yank_reason,
        "url": f"{base_url}/review/{secret}", "manifest": manifest,
        "checklist_warnings": version.checklist_warnings or [], "training_config": version.training_config,
        "expires_at": link.expires_at.isoformat(),
    }
    _keep_file_digests(manifest, json.loads(version.manifest))
    return anonymised(document, identities(version), ANONYMOUS) | {"name": opaque, "manifest": manifest,
                                                                    "url": document["url"], "digest": version.digest}


def _keep_file_digests(manifest: dict, signed: dict) -> None:
    """Put back each file's size and SHA-256 exactly as the signed manifest has them: a short namespace or user name
    (``ab``) can occur inside a hex digest, and the holder checks every byte against these."""
    for entry, original in zip(manifest.get("files") or [], signed.get("files") or [], strict=True):
        entry["sha256"], entry["size"] = original["sha256"], original["size"]


def holds_blob(version: Version, digest: str) -> bool:
    return any(entry.blob_digest == digest for entry in version.files)


def counts_as_use(range_start: int) -> bool:
    """Whether a blob request is a use of its own: a whole download, or the first range of one (a download resumed
    or fetched in ranges is one use, not one per range)."""
    return range_start == 0

