"""Publishing versions: validate the manifest, check every blob, then write the version in one transaction."""

import json

import yaml
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.errors import RegistryError
from reproreg.models import (
    Artifact,
    ChecklistAnswer,
    Claim,
    EvaluationSpec,
    User,
    Version,
    VersionFile,
)
from reproreg.models.base import utcnow
from reproreg.services import audit, badge_states, release
from reproreg.services.access import find_artifact, readable_artifact, split_name, writable_namespace
from reproreg.services.uploads import blob_sizes, held_digests, refuse_verifying
from reproreg.services.versions import resolve_version
from reproreg_schemas.bounded_yaml import YamlTooLarge, load_bounded_yaml, to_json_data
from reproreg_schemas.checklist import mechanical_warnings
from reproreg_schemas.errors import flatten_messages
from reproreg_schemas.manifest import canonical_manifest, manifest_bytes, manifest_digest


def publish(ctx: RegistryContext, session: Session, user: User | None, full_name: str, version: str,
            manifest: dict, visibility: str) -> tuple[Version, bool]:
    """Publish ``full_name@version``; returns the version and whether it was created (False: identical
    content was already published, a no-op apart from the artifact's visibility).

    Two publishes of a new version (or a new artifact) may run at once: the loser's insert breaks a unique
    constraint when it is flushed here. The edge then retries the whole transaction (``unit_of_work.
    retrying_lost_races``), which finds the winner's version: the same content is an idempotent success, other
    content is VERSION_EXISTS."""
    namespace_name = writable_namespace(session, user, split_name(full_name)[0]).name
    manifest = _validated(manifest, full_name, version)
    return _publish_once(ctx, session, user, namespace_name, full_name, manifest, manifest_digest(manifest),
                         visibility)


def _publish_once(ctx: RegistryContext, session: Session, user: User, namespace_name: str, full_name: str,
                  manifest: dict, digest: str, visibility: str) -> tuple[Version, bool]:
    version = manifest["version"]
    artifact = find_artifact(session, full_name)
    if artifact is not None:
        existing = session.scalar(select(Version).where(Version.artifact_id == artifact.id,
                                                        Version.version == version))
        if existing is not None:
            row = _republish(session, user, artifact, existing, digest, visibility)
            _link_mirrored(session, user, row, manifest["files"])
            badge_states.refresh_artifact(session, artifact)
            return row, False
    held = _check_blobs(session, user, manifest["files"])
    training_config = _parse_training_config(ctx, manifest, held)
    if artifact is None:
        namespace = writable_namespace(session, user, namespace_name)
        artifact = Artifact(namespace_id=namespace.id, name=split_name(full_name)[1], visibility=visibility)
        session.add(artifact)
        session.flush()
        audit.record(session, user, "artifact.create", full_name, visibility=visibility)
    else:
        _set_visibility(session, user, artifact, visibility)
    row = _insert_version(session, user, artifact, manifest, digest, training_config, held)
    audit.record(session, user, "version.publish", f"{full_name}@{version}", digest=digest)
    session.flush()
    badge_states.refresh_artifact(session, artifact)
    return row, True


def _validated(manifest: dict, full_name: str, version: str) -> dict:
    try:
        manifest = canonical_manifest(manifest)
    except ValidationError as err:
        problems = flatten_messages(err.messages)
        raise RegistryError("INVALID_MANIFEST", f"the manifest has {len(problems)} problem(s)",
                            problems=problems) from None
    mismatched = {key: manifest[key] for key, expected in (("name", full_name), ("version", version))
                  if manifest[key] != expected}
    if mismatched:
        raise RegistryError("INVALID_MANIFEST", f"the manifest is for {manifest['name']}@{manifest['version']}, "
                            f"but was sent to {full_name}@{version}", problems={
                                key: [f"does not match the URL ({value!r})"] for key, value in mismatched.items()})
    return manifest


def _republish(session: Session, user: User, artifact: Artifact, existing: Version, digest: str,
               visibility: str) -> Version:
    if existing.digest != digest:
        raise RegistryError(
            "VERSION_EXISTS",
            f"{artifact.full_name}@{existing.version} is already published with other content "
            f"({existing.digest}); a published version never changes: push a new version number",
            existing_digest=existing.digest, digest=digest)
    _set_visibility(session, user, artifact, visibility)
    return existing


def _set_visibility(session: Session, user: User, artifact: Artifact, visibility: str) -> None:
    """``visibility`` is the release stage asked for; raising it passes the ethics gate (reproreg.services.release)."""
    release.set_stage(session, user, artifact, visibility, why="publish")


def _check_blobs(session: Session, user: User, files: list[dict]) -> set[str]:
    """The digests of the version whose bytes the caller holds in the registry. Every file without a source must be
    held; a file with one (on the Hugging Face Hub) may be held (mirrored) or not."""
    digests = {entry["sha256"] for entry in files}
    held = held_digests(session, user, digests)
    missing = sorted({entry["sha256"] for entry in files if not entry.get("source")} - held)
    if missing:
        refuse_verifying(session, user, missing)
        paths = [entry["path"] for entry in files if entry["sha256"] in missing]
        raise RegistryError("BLOB_UNKNOWN", f"{len(missing)} file(s) have not been uploaded: "
                            f"{', '.join(paths[:5])}", missing=missing, paths=paths)
    sizes = blob_sizes(session, digests & held)
    wrong = [entry["path"] for entry in files if entry["sha256"] in held and sizes[entry["sha256"]] != entry["size"]]
    if wrong:
        raise RegistryError("BLOB_SIZE_MISMATCH", f"the manifest gives wrong sizes for {', '.join(wrong[:5])}",
                            paths=wrong)
    return held


def _link_mirrored(session: Session, user: User, row: Version, files: list[dict]) -> None:
    """Publishing the same content again after its Hub files were mirrored: the version's files now point at the
    bytes in the registry's storage (the manifest, and so the digest, is unchanged)."""
    unlinked = [f for f in row.files if f.blob_digest is None]
    if not unlinked:
        return
    by_path = {entry["path"]: entry for entry in files}
    held = _check_blobs(session, user, [by_path[f.path] for f in unlinked if f.path in by_path])
    for version_file in unlinked:
        entry = by_path.get(version_file.path)
        if entry is not None and entry["sha256"] in held:
            version_file.blob_digest = entry["sha256"]
            audit.record(session, user, "version.mirror", f"{row.artifact.full_name}@{row.version}",
                         path=version_file.path, digest=entry["sha256"])


def _parse_training_config(ctx: RegistryContext, manifest: dict, held: set[str]):
    """The training config file, parsed as YAML (a superset of JSON) into JSON-compatible data; None when it is a
    Hub file whose bytes the registry does not hold."""
    path = (manifest.get("training") or {}).get("config")
    if not path:
        return None
    entry = next(entry for entry in manifest["files"] if entry["path"] == path)
    if entry["sha256"] not in held:
        return None
    limit = ctx.settings.max_training_config_bytes
    if entry["size"] > limit:
        raise RegistryError("INVALID_TRAINING_CONFIG", f"{path} is larger than {limit} bytes", path=path)
    text = b"".join(ctx.blobs.read(entry["sha256"]))
    if path.lower().endswith(".json"):  # as JSON: YAML would read 1e-08 as a string
        try:
            return to_json_data(json.loads(text), max_bytes=2 * limit)
        except YamlTooLarge as err:
            raise RegistryError("INVALID_TRAINING_CONFIG", f"{path} is too large once parsed: {err}",
                                path=path) from None
        except (ValueError, RecursionError, yaml.YAMLError) as err:
            raise RegistryError("INVALID_TRAINING_CONFIG", f"{path} is not valid JSON: {err}", path=path) from None
    try:  # stored as JSON and shown on the version's page: aliases must not make it grow past twice the file limit
        return to_json_data(load_bounded_yaml(text.decode("utf-8")), max_bytes=2 * limit)
    except YamlTooLarge as err:
        raise RegistryError("INVALID_TRAINING_CONFIG", f"{path} is too large once parsed: {err}",
                            path=path) from None
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        message = " ".join(str(err).split())
        raise RegistryError("INVALID_TRAINING_CONFIG", f"{path} is not valid YAML or JSON: {message}",
                            path=path) from None


def _insert_version(session: Session, user: User, artifact: Artifact, manifest: dict, digest: str,
                    training_config, held: set[str]) -> Version:
    paper = manifest.get("paper")
    row = Version(
        artifact_id=artifact.id, version=manifest["version"], digest=digest,
        manifest=manifest_bytes(manifest).decode(), title=manifest["title"], license=manifest["license"],
        venue=(paper or {}).get("venue"), paper=paper, training=manifest.get("training"),
        training_config=training_config, ethics=manifest.get("ethics"),
        checklist_warnings=mechanical_warnings(
            manifest["checklist"], [entry["path"] for entry in manifest["files"]],
            (manifest.get("evaluation") or {}).get("command")),
        published_at=utcnow(), published_by_id=user.id,
    )
    session.add(row)
    session.flush()
    session.add_all(VersionFile(version_id=row.id, path=entry["path"],
                                blob_digest=entry["sha256"] if entry["sha256"] in held else None,
                                size=entry["size"], media_type=entry["media_type"], source=entry.get("source"))
                    for entry in manifest["files"])
    session.add_all(Claim(version_id=row.id, position=index, metric=claim["metric"], value=claim["value"],
                          dataset=claim["dataset"], tolerance=claim["tolerance"], std=claim.get("std"),
                          n_runs=claim.get("n_runs"), hardware=claim.get("hardware"), kind=claim.get("kind"))
                    for index, claim in enumerate(manifest["claims"]))
    session.add_all(ChecklistAnswer(version_id=row.id, item=item, answer=answer["answer"],
                                    justification=answer["justification"], evidence=answer.get("evidence"))
                    for item, answer in manifest["checklist"].items())
    evaluation = manifest.get("evaluation")
    if evaluation:
        gpu = evaluation.get("gpu") or {}
        session.add(EvaluationSpec(version_id=row.id, command=evaluation["command"],
                                   accelerator=evaluation["accelerator"], timeout_s=evaluation["timeout_s"],
                                   memory_mb=evaluation.get("memory_mb"), gpu_min_memory_gb=gpu.get("min_memory_gb"),
                                   gpu_model=gpu.get("model")))
    return row


def yank(session: Session, user: User | None, full_name: str, reference: str, reason: str) -> Version:
    """Mark a version as yanked: still listed and resolvable, never the latest, never edited."""
    artifact = readable_artifact(session, user, full_name)
    writable_namespace(session, user, artifact.namespace.name)
    row = resolve_version(session, artifact, reference)
    if row.yanked_at is None:
        row.yanked_at = utcnow()
        row.yank_reason = reason
        audit.record(session, user, "version.yank", f"{full_name}@{row.version}", digest=row.digest,
                     reason=reason)
        badge_states.refresh_artifact(session, artifact)
    return row

