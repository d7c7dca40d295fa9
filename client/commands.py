"""The work behind each regctl command, free of argument parsing and printing."""

from dataclasses import dataclass
from pathlib import Path

from client.api import ApiClient
from client.cache import BlobCache
from client.errors import AuthError, Conflict, IntegrityError, NotFound, UsageError
from client.hashing import file_fingerprint, sha256_file
from client.progress import progress_bar
from client.project import load_project
from client.transfer import fetch_blob, place_file, stream_blob, upload_blob
from schemas.checklist import mechanical_warnings
from schemas.manifest import canonical_manifest, manifest_digest
from schemas.names import DIGEST_RE, normalise_relative_path, validate_full_name, validate_semver


@dataclass(frozen=True)
class Reference:
    name: str
    version: str | None  # a version number, a sha256 digest, or None for the latest

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


def parse_reference(text: str) -> Reference:
    from marshmallow import ValidationError

    name, _, version = text.partition("@")
    try:
        validate_full_name(name)
        if version and not DIGEST_RE.match(version):
            validate_semver(version)
    except ValidationError as err:
        raise UsageError(f"{text!r}: {err.messages[0]}; expected NAME[@VERSION|@sha256:DIGEST]") from None
    return Reference(name, version or None)


#: files at least this large whose content the registry has not seen are hashed while they upload
STREAM_MIN_BYTES = 64 << 20


def push(api: ApiClient, folder: Path, show_progress: bool) -> dict:
    project = load_project(folder)
    _check_namespace(api, project.name)
    existing = _published_digest(api, project.name, project.version)
    streamed = [] if existing else _new_large_files(api, project.files)
    hashed_first = [f for f in project.files if f not in streamed]

    digests = {}
    with progress_bar(f"hashing {len(hashed_first)} files", sum(f.size for f in hashed_first),
                      show_progress) as advance:
        for local in hashed_first:
            digests[local.path], _ = sha256_file(local.absolute, advance)
    if existing:
        digest = manifest_digest(project.manifest(digests))
        if digest != existing:
            raise Conflict(f"{project.name}@{project.version} is already published with other content "
                           f"({existing}); a published version never changes: push a new version number",
                           code="VERSION_EXISTS", details={"existing_digest": existing, "digest": digest})

    missing = set(api.missing_blobs(sorted(set(digests.values())))) if digests else set()
    to_send = {}
    for local in hashed_first:
        if digests[local.path] in missing:
            to_send.setdefault(digests[local.path], local)
    sent = 0
    total_upload = sum(f.size for f in to_send.values()) + sum(f.size for f in streamed)
    with progress_bar(f"uploading {len(to_send) + len(streamed)} blobs", total_upload, show_progress) as advance:
        for blob_digest, local in to_send.items():
            sent += upload_blob(api, local.absolute, blob_digest, local.size, advance)
        for local in streamed:
            digests[local.path], count = stream_blob(api, local.absolute, local.size, local.fingerprint, advance)
            sent += count

    manifest = project.manifest(digests)
    digest = manifest_digest(manifest)
    warnings = mechanical_warnings(manifest["checklist"], [f.path for f in project.files],
                                   (manifest.get("evaluation") or {}).get("command"))
    published = api.publish(project.name, project.version, manifest, project.release)
    if published["digest"] != digest:
        raise IntegrityError(f"the registry computed digest {published['digest']} for this version, but regctl "
                             f"computed {digest}; nothing was changed locally", code="DIGEST_MISMATCH")
    return {
        "name": project.name, "version": project.version, "digest": digest, "url": published["url"],
        "created": published.get("created", False), "visibility": published["visibility"],
        "files": len(project.files), "bytes_total": sum(f.size for f in project.files),
        "blobs_uploaded": len(to_send) + len(streamed), "bytes_uploaded": sent, "warnings": warnings,
    }


def _new_large_files(api: ApiClient, files: list) -> list:
    """Large files whose content is new to the registry (one per distinct content)."""
    large = [f for f in files if f.size >= STREAM_MIN_BYTES]
    for local in large:
        local.fingerprint = file_fingerprint(local.absolute, local.size)
    known = set(api.probe_fingerprints([f.fingerprint for f in large])) if large else set()
    chosen: dict[str, object] = {}
    for local in large:
        if local.fingerprint not in known:
            chosen.setdefault(local.fingerprint, local)
    return list(chosen.values())


def _check_namespace(api: ApiClient, name: str) -> None:
    """Refuse early what the registry would refuse after the upload (it enforces this too)."""
    namespace = name.split("/")[0]
    identity = api.whoami()
    if namespace not in identity["namespaces"]:
        raise AuthError(f"user {identity['name']!r} cannot push into namespace {namespace!r}; push into your own "
                        f"namespace, e.g. '{identity['name']}/{name.split('/')[1]}'", code="FORBIDDEN")


def _published_digest(api: ApiClient, name: str, version: str) -> str | None:
    try:
        return api.get_version(name, version)["digest"]
    except NotFound:
        return None


def verified_version(api: ApiClient, reference: Reference) -> dict:
    """The version document, after checking that its manifest hashes to the digest it claims."""
    document = api.get_version(reference.name, reference.version)
    manifest = canonical_manifest(document["manifest"])
    actual = manifest_digest(manifest)
    expected = reference.version if reference.version and DIGEST_RE.match(reference.version) else document["digest"]
    if actual != document["digest"] or actual != expected:
        raise IntegrityError(f"the manifest of {reference} hashes to {actual}, not {expected}",
                             code="DIGEST_MISMATCH", details={"expected": expected, "actual": actual})
    if manifest["name"] != reference.name:
        raise IntegrityError(f"the registry answered with {manifest['name']} for {reference.name}")
    document["manifest"] = manifest
    return document


def pull(api: ApiClient, cache: BlobCache, reference: Reference, output: Path, show_progress: bool) -> dict:
    return download(api, cache, verified_version(api, reference), output, show_progress)


def download(api: ApiClient, cache: BlobCache, document: dict, output: Path, show_progress: bool) -> dict:
    """Write the files of a verified version document into ``output``, each checked against its sha256."""
    files = document["manifest"]["files"]
    output = Path(output)
    root = output.resolve()
    targets = []
    for entry in files:
        relative = normalise_relative_path(entry["path"])  # never trust a path from the network
        target = (output / relative)
        if root not in target.resolve().parents:
            raise IntegrityError(f"the manifest names a path outside the output folder: {entry['path']!r}")
        targets.append((entry, target))
    downloaded = 0
    with progress_bar(f"downloading {len(files)} files", sum(e["size"] for e in files), show_progress) as advance:
        for entry, target in targets:
            cached, count = fetch_blob(api, cache, document["name"], entry["path"], entry["sha256"],
                                       entry["size"], advance)
            place_file(cached, target)
            downloaded += count
    return {
        "name": document["name"], "version": document["version"], "digest": document["digest"],
        "yanked": document["yanked"], "yank_reason": document["yank_reason"], "output": str(output),
        "files": [{"path": e["path"], "size": e["size"], "sha256": e["sha256"]} for e in files],
        "bytes_downloaded": downloaded,
    }
