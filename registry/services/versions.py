"""Reading artifacts and versions (after the access check has passed)."""

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg import urls
from reproreg.errors import RegistryError
from reproreg.models import Artifact, Version, VersionFile
from reproreg_schemas.names import DIGEST_PREFIX, DIGEST_RE, LATEST, malformed_digest_message, semver_key

#: how many of the existing versions a "has no version" answer names
VERSIONS_NAMED = 5


def versions_of(session: Session, artifact: Artifact) -> list[Version]:
    rows = session.scalars(select(Version).where(Version.artifact_id == artifact.id))
    return sorted(rows, key=lambda row: semver_key(row.version), reverse=True)


def latest_version(session: Session, artifact: Artifact) -> Version | None:
    """The highest version that is not yanked, preferring releases over pre-releases."""
    candidates = [row for row in versions_of(session, artifact) if row.yanked_at is None]
    releases = [row for row in candidates if "-" not in row.version.split("+")[0]]
    return (releases or candidates or [None])[0]


def resolve_version(session: Session, artifact: Artifact, reference: str | None) -> Version:
    """``reference`` is a version number, ``sha256:<digest>``, or None / "latest"."""
    if reference in (None, "", LATEST):
        row = latest_version(session, artifact)
    elif reference.lower().startswith(DIGEST_PREFIX):
        if not DIGEST_RE.fullmatch(reference):
            raise RegistryError("INVALID_DIGEST", malformed_digest_message(reference), reference=reference)
        row = session.scalar(select(Version).where(Version.artifact_id == artifact.id, Version.digest == reference))
    else:
        row = session.scalar(select(Version).where(Version.artifact_id == artifact.id, Version.version == reference))
    if row is None:
        raise _no_such_version(session, artifact, reference)
    return row


def _no_such_version(session: Session, artifact: Artifact, reference: str | None) -> RegistryError:
    """NOT_FOUND that names the versions there are (newest first, a few), so the next try can be the right one."""
    existing = [row.version for row in versions_of(session, artifact)]
    if reference in (None, "", LATEST):
        what = "no published version that is not yanked" if existing else "no published version"
    else:
        what = f"no version {reference!r}"
    if existing:
        shown = ", ".join(existing[:VERSIONS_NAMED]) + (f" and {len(existing) - VERSIONS_NAMED} more"
                                                       if len(existing) > VERSIONS_NAMED else "")
        what += f"; its versions are {shown}"
    return RegistryError("NOT_FOUND", f"{artifact.full_name} has {what}", name=artifact.full_name,
                         versions=existing[:VERSIONS_NAMED])


def artifact_holds_blob(session: Session, artifact: Artifact, digest: str) -> bool:
    return session.scalar(
        select(VersionFile.id).join(Version).where(Version.artifact_id == artifact.id,
                                                   VersionFile.blob_digest == digest).limit(1)
    ) is not None


def version_document(row: Version, base_url: str) -> dict:
    artifact = row.artifact
    return {
        "name": artifact.full_name,
        "version": row.version,
        "digest": row.digest,
        "visibility": artifact.visibility,
        "published_at": row.published_at,
        "published_by": row.published_by.name,
        "yanked": row.yanked_at is not None,
        "yank_reason": row.yank_reason,
        "url": urls.version_url(base_url, artifact.full_name, row.version),
        "manifest": json.loads(row.manifest),
        "checklist_warnings": row.checklist_warnings or [],
        "training_config": row.training_config,
        **hardware_document(row),
    }


def hardware_document(row: Version) -> dict:
    """The hardware each claim was measured on (as the author named it; None where not named) and the GPU the
    evaluation needs (None when it needs none in particular), as stored with the version."""
    spec = row.evaluation_spec
    gpu = None
    if spec is not None and (spec.gpu_min_memory_gb is not None or spec.gpu_model):
        gpu = {"min_memory_gb": spec.gpu_min_memory_gb, "model": spec.gpu_model}
    return {"claimed_hardware": [{"metric": claim.metric, "dataset": claim.dataset, "hardware": claim.hardware}
                                 for claim in row.claims],
            "gpu_required": gpu}


def file_locations(row: Version) -> dict[str, dict]:
    """Where each file of a version lives, by path: ``source`` (its pinned place on the Hugging Face Hub, or None)
    and ``stored`` (whether the registry's own storage holds its bytes: a Hub file only once mirrored)."""
    return {f.path: {"source": f.source, "stored": f.blob_digest is not None} for f in row.files}


def artifact_document(session: Session, artifact: Artifact) -> dict:
    rows = versions_of(session, artifact)
    latest = latest_version(session, artifact)
    return {
        "name": artifact.full_name,
        "visibility": artifact.visibility,
        "created_at": artifact.created_at,
        "latest": latest.version if latest else None,
        "versions": [{"version": row.version, "digest": row.digest, "published_at": row.published_at,
                      "yanked": row.yanked_at is not None, "yank_reason": row.yank_reason} for row in rows],
    }


def training_config_text(blobs, settings, version: Version) -> str | None:
    """The training config file exactly as published (bounded by the parse limit), for display."""
    path = (version.training or {}).get("config")
    entry = next((f for f in version.files if f.path == path), None) if path else None
    if entry is None or entry.blob_digest is None or entry.size > settings.max_training_config_bytes:
        return None
    try:
        return b"".join(blobs.read(entry.blob_digest)).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
