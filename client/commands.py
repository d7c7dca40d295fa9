"""The work behind each regctl command, free of argument parsing and printing."""

import threading
from collections import defaultdict
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from regctl import hub
from regctl.api import ApiClient
from regctl.cache import BlobCache
from regctl.errors import AuthError, Conflict, ConnectionFailed, IntegrityError, NotFound, UsageError
from regctl.hashing import file_fingerprint, sha256_file
from regctl.progress import progress_bar
from regctl.project import LocalFile, load_project
from regctl.transfer import (
    SMALL_BLOB_BYTES,
    batches,
    fetch_blob,
    place_file,
    stream_blob,
    upload_blob,
    upload_blob_batch,
)
from reproreg_schemas.api import MAX_FILES_PER_VERSION
from reproreg_schemas.manifest import canonical_manifest, manifest_digest
from reproreg_schemas.names import (
    DIGEST_RE,
    LATEST,
    normalise_relative_path,
    validate_full_name,
    validate_version_reference,
)
from reproreg_schemas.vocabulary import ChecklistState


@dataclass(frozen=True)
class Reference:
    name: str
    version: str | None  # a version number, a sha256 digest, or None for the latest

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


def parse_reference(text: str) -> Reference:
    """``NAME``, ``NAME@VERSION``, ``NAME@sha256:DIGEST`` or ``NAME@latest`` (the same as ``NAME``), as the API
    reads them; a digest that is not one is named a malformed digest."""
    from marshmallow import ValidationError

    name, _, version = text.partition("@")
    try:
        validate_full_name(name)
        if version:
            validate_version_reference(version)
    except ValidationError as err:
        raise UsageError(f"{text!r}: {err.messages[0]}; expected NAME[@VERSION|@sha256:DIGEST|@latest]") from None
    return Reference(name, None if version in ("", LATEST) else version)


#: files at least this large whose content the registry has not seen are hashed while they upload
STREAM_MIN_BYTES = 64 << 20
#: uploads and downloads in flight at once (batches of small files, or whole files)
TRANSFER_THREADS = 4


def push(api: ApiClient, folder: Path, show_progress: bool, mirror: bool = False) -> dict:
    """Publish the folder's version. Files on the Hugging Face Hub are checked against what the Hub publishes for
    them (size and SHA-256, no bytes) and only referenced, unless ``mirror``: then their bytes are downloaded
    through huggingface_hub (into its cache), checked, and uploaded like any other file."""
    project = load_project(folder)
    _check_file_count(project)
    _check_namespace(api, project.name)
    existing = _published_digest(api, project.name, project.version)
    streamed = [] if existing else _new_large_files(api, project.files)
    hashed_first = [f for f in project.files if f not in streamed]

    digests = _hash_files(hashed_first, show_progress)
    if existing:
        _refuse_other_content(project, existing, manifest_digest(project.manifest(digests)))
    if project.hub_files and not mirror:
        hub.check_against_hub(project.hub_files)

    wanted = set(digests.values()) | ({f.sha256 for f in project.hub_files} if mirror else set())
    missing = set(api.missing_blobs(sorted(wanted))) if wanted else set()
    to_send = {}
    for local in hashed_first:
        if digests[local.path] in missing:
            to_send.setdefault(digests[local.path], local)
    mirrored = 0
    for hub_file in project.hub_files if mirror else []:
        if hub_file.sha256 in missing and hub_file.sha256 not in to_send:
            copy = hub.checked_local_copy({"path": hub_file.path, "source": hub_file.source,
                                           "size": hub_file.size, "sha256": hub_file.sha256})
            to_send[hub_file.sha256] = LocalFile(hub_file.path, copy, hub_file.size, hub_file.media_type)
            mirrored += 1
    total_upload = sum(f.size for f in to_send.values()) + sum(f.size for f in streamed)
    with progress_bar(f"uploading {len(to_send) + len(streamed)} blobs", total_upload, show_progress) as advance:
        advance = _thread_safe(advance)
        sent = _upload_concurrently(api, to_send, advance)
        for local in streamed:
            digests[local.path], count = stream_blob(api, local.absolute, local.size, local.fingerprint, advance)
            sent += count

    manifest = project.manifest(digests)
    digest = manifest_digest(manifest)
    checklist = project.checklist()
    published = _publish_with_release(api, project, manifest)
    if published["digest"] != digest:
        raise IntegrityError(f"the registry computed digest {published['digest']} for this version, but regctl "
                             f"computed {digest}; nothing was changed locally", code="DIGEST_MISMATCH")
    return {
        "name": project.name, "version": project.version, "digest": digest, "url": published["url"],
        "created": published.get("created", False), "visibility": published["visibility"],
        "files": len(project.files) + len(project.hub_files),
        "bytes_total": sum(f.size for f in project.files) + sum(f.size for f in project.hub_files),
        "hub_files": len(project.hub_files), "hub_bytes": sum(f.size for f in project.hub_files),
        "mirrored": mirrored,
        "blobs_uploaded": len(to_send) + len(streamed), "bytes_uploaded": sent,
        "warnings": checklist["warnings"], "file_warnings": project.file_warnings,
        **_contents(project, checklist),
    }


def check(api: ApiClient | None, folder: Path, show_progress: bool, no_registry_reason: str | None = None) -> dict:
    """What ``push`` would do, without publishing anything: validate the folder, hash every file, and (when
    ``api`` is given and the registry answers) ask which blobs it lacks and whether the version exists.

    Raises what push would raise before uploading: an invalid folder (exit 4), a namespace the token cannot push
    into (6), a version already published with other content (8). An unreachable registry is not an error: the
    plan says it could not ask, and counts every file as to be uploaded."""
    project = load_project(folder)
    _check_file_count(project)
    registry = {"asked": False, "reason": no_registry_reason or "no registry to ask", "version_state": None}
    existing = None
    if api is not None:
        try:
            _check_namespace(api, project.name)
        except ConnectionFailed as err:
            registry["reason"] = err.message
            api = None
    if api is not None:
        registry.update(asked=True, reason=None, url=api.url)
        existing = _published_digest(api, project.name, project.version)

    digests = _hash_files(project.files, show_progress)
    manifest = project.manifest(digests)
    digest = manifest_digest(manifest)
    if existing:
        _refuse_other_content(project, existing, digest)
    distinct = sorted(set(digests.values()))
    if api is not None:
        registry["version_state"] = "unchanged" if existing else "new"
        missing = set(api.missing_blobs(distinct)) if distinct else set()
    else:
        missing = set(distinct)
    sizes = {digests[f.path]: f.size for f in project.files}
    checklist = project.checklist()
    return {
        "name": project.name, "version": project.version, "digest": digest, "folder": str(project.folder),
        "visibility": project.release["visibility"],
        "files": [{"path": f.path, "size": f.size, "sha256": digests[f.path], "media_type": f.media_type,
                   "upload": digests[f.path] in missing} for f in project.files]
        + [{"path": f.path, "size": f.size, "sha256": f.sha256, "media_type": f.media_type, "upload": False,
            "source": f.source} for f in project.hub_files],
        "bytes_total": sum(f.size for f in project.files) + sum(f.size for f in project.hub_files),
        "upload": {"blobs": len(missing), "bytes": sum(sizes[d] for d in missing)},
        "registry": registry,
        "warnings": checklist["warnings"], "file_warnings": project.file_warnings,
        **_contents(project, checklist),
    }


def _contents(project, checklist: dict) -> dict:
    """What a version holds besides its files: how far the checklist is answered, its claims, its evaluation."""
    return {"checklist": checklist, "draft": checklist["state"] == ChecklistState.INCOMPLETE,
            "claims": len(project.claims), "evaluation": project.evaluation}


def _hash_files(files: list, show_progress: bool) -> dict[str, str]:
    digests = {}
    with progress_bar(f"hashing {len(files)} files", sum(f.size for f in files), show_progress) as advance:
        for local in files:
            digests[local.path], size = sha256_file(local.absolute, advance, local.size)
            if size != local.size:
                raise IntegrityError(f"{local.path} changed while it was being read; run the command again",
                                     code="FILE_CHANGED", details={"path": local.path})
    return digests


def _refuse_other_content(project, existing: str, digest: str) -> None:
    if digest != existing:
        raise Conflict(f"{project.name}@{project.version} is already published with other content "
                       f"({existing}); a published version never changes: push a new version number",
                       code="VERSION_EXISTS", details={"existing_digest": existing, "digest": digest})


def _check_file_count(project) -> None:
    count = len(project.files) + len(project.hub_files)
    if count > MAX_FILES_PER_VERSION:
        raise UsageError(f"{project.folder} lists {count} files; a version may have at most "
                         f"{MAX_FILES_PER_VERSION}: split the artifact, or pack small files into an archive; "
                         "nothing was uploaded", code="TOO_MANY_FILES",
                         details={"files": count, "limit": MAX_FILES_PER_VERSION})


def _upload_concurrently(api: ApiClient, to_send: dict, advance) -> int:
    """Upload blobs on a few threads: small ones in batches (one request for many files), others one by one.
    Returns the bytes sent."""
    small = [(digest, local.absolute, local.size) for digest, local in to_send.items()
             if local.size <= SMALL_BLOB_BYTES]
    larger = [(digest, local) for digest, local in to_send.items() if local.size > SMALL_BLOB_BYTES]
    tasks = [lambda group=group: upload_blob_batch(api, group, advance) for group in batches(small)]
    tasks += [lambda digest=digest, local=local: upload_blob(api, local.absolute, digest, local.size, advance)
              for digest, local in sorted(larger, key=lambda item: -item[1].size)]
    return sum(_run_concurrently(tasks))


def _run_concurrently(tasks: list) -> list:
    """Run callables on TRANSFER_THREADS threads; the first failure cancels what has not started and is raised."""
    if len(tasks) <= 1:
        return [task() for task in tasks]
    pool = ThreadPoolExecutor(max_workers=TRANSFER_THREADS, thread_name_prefix="regctl-transfer")
    try:
        futures = [pool.submit(task) for task in tasks]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((future for future in futures if future.done() and future.exception()), None)
        if failed is not None:
            raise failed.exception()
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _thread_safe(advance):
    lock = threading.Lock()

    def locked(count: int) -> None:
        with lock:
            advance(count)

    return locked


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


#: ``release`` keys beyond the older ``visibility``: set through the artifact's release endpoint after publishing
RELEASE_SETTINGS = ("risk", "generative", "plan", "stage")


def _publish_with_release(api: ApiClient, project, manifest: dict) -> dict:
    """Publish; with a release plan, risk or stage in regctl.yaml, publish at the artifact's current stage (a new
    artifact: private) and then set them, so that the ethics gate sees the risk before the stage is raised."""
    release = project.release
    settings = {key: release[key] for key in RELEASE_SETTINGS if key in release}
    if not settings:
        return api.publish(project.name, project.version, manifest, release)
    settings.setdefault("stage", release["visibility"])
    if "plan" in settings:
        settings["plan"] = [{"stage": step["stage"], "on": step["on"].isoformat()} for step in settings["plan"]]
    try:
        current = api.release(project.name)["stage"]
    except NotFound:
        current = "private"
    published = api.publish(project.name, project.version, manifest, {"visibility": current})
    configured = api.configure_release(project.name, settings)
    return {**published, "visibility": configured["stage"]}


def review_pull(link: str, cache: BlobCache, output: Path | None, show_progress: bool, force: bool = False) -> dict:
    """Pull the version an anonymous review link shows (no account). Its manifest is anonymised, so it cannot be
    checked against the digest; every file is still checked against its SHA-256 before it is written."""
    from regctl.api import ReviewLinkClient, review_link_parts

    url, secret = review_link_parts(link)
    api = ReviewLinkClient(url, secret)
    document = review_version(api)
    output = output or Path(document["name"].split("/")[1])
    return download(api, cache, document, output, show_progress, force)


def review_version(api) -> dict:
    """The version document a review link shows, checked as far as its holder can: the anonymised manifest does not
    hash to the version's digest (the signed one names the authors), so what pins the bytes is each file's size and
    SHA-256, which the registry serves exactly as signed; every file is checked against them before it is written
    or run. Refuses a document that does not give both for every file."""
    document = api.review_version()
    for entry in document["manifest"].get("files") or []:
        if not isinstance(entry.get("size"), int) or entry["size"] < 0 \
                or not DIGEST_RE.fullmatch(str(entry.get("sha256", ""))):
            raise IntegrityError(f"the review link's manifest gives no size and sha256 for {entry.get('path')!r}",
                                 code="DIGEST_MISMATCH", details={"path": entry.get("path")})
    return document


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


def pull(api: ApiClient, cache: BlobCache, reference: Reference, output: Path, show_progress: bool,
         force: bool = False) -> dict:
    return download(api, cache, verified_version(api, reference), output, show_progress, force)


def download(api: ApiClient, cache: BlobCache, document: dict, output: Path, show_progress: bool,
             force: bool = False) -> dict:
    """Write the files of a verified version document into ``output``, each checked against its sha256.

    Every file written is a copy of its own, never shared with the cache or with another pull. A file already in
    ``output`` with the right content is left as it is; one with other content (edited locally, or from another
    version) makes the pull refuse before anything is written, unless ``force``: then it is overwritten."""
    files = document["manifest"]["files"]
    output = Path(output)
    targets = _targets(files, output)
    pending, changed = _compare_with_disk(targets)
    if changed and not force:
        raise _local_changes(document, output, changed)
    by_digest: dict[str, list] = defaultdict(list)
    for entry, target in pending:
        by_digest[entry["sha256"]].append((entry, target))
    total = sum(group[0][0]["size"] for group in by_digest.values())
    with progress_bar(f"downloading {len(pending)} files", total, show_progress) as advance:
        advance = _thread_safe(advance)
        downloaded = sum(_run_concurrently([
            lambda group=group: _fetch_and_place(api, cache, document["name"], group, advance)
            for group in by_digest.values()]))
    return {
        "name": document["name"], "version": document["version"], "digest": document["digest"],
        "yanked": document["yanked"], "yank_reason": document["yank_reason"], "output": str(output),
        "files": [{"path": e["path"], "size": e["size"], "sha256": e["sha256"],
                   **({"source": e["source"]} if e.get("source") else {})} for e in files],
        "bytes_downloaded": downloaded, "unchanged": len(targets) - len(pending),
        "overwritten": [entry["path"] for entry, _ in changed],
    }


def _targets(files: list[dict], output: Path) -> list[tuple[dict, Path]]:
    root = output.resolve()
    targets = []
    for entry in files:
        relative = normalise_relative_path(entry["path"])  # never trust a path from the network
        target = (output / relative)
        if root not in target.resolve().parents:
            raise IntegrityError(f"the manifest names a path outside the output folder: {entry['path']!r}")
        targets.append((entry, target))
    return targets


def _compare_with_disk(targets: list[tuple[dict, Path]]) -> tuple[list, list]:
    """(files to write, files on disk whose content differs); files already right are neither."""
    pending, changed = [], []
    for entry, target in targets:
        if not target.exists() and not target.is_symlink():
            pending.append((entry, target))
        elif _holds(target, entry):
            continue
        else:
            pending.append((entry, target))
            changed.append((entry, target))
    return pending, changed


def _holds(target: Path, entry: dict) -> bool:
    if target.is_symlink() or not target.is_file() or target.stat().st_size != entry["size"]:
        return False
    return sha256_file(target, size_hint=entry["size"])[0] == entry["sha256"]


def _local_changes(document: dict, output: Path, changed: list) -> UsageError:
    paths = [entry["path"] for entry, _ in changed]
    shown = ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
    return UsageError(f"{len(paths)} file(s) in {output} differ from {document['name']}@{document['version']} "
                      f"(changed locally, or from another version): {shown}; nothing was written. "
                      "Pass --force to overwrite them", code="LOCAL_CHANGES", details={"paths": paths})


def _fetch_and_place(api: ApiClient, cache: BlobCache, name: str, group: list, advance) -> int:
    """Fetch one blob (from the cache or the registry) and write it to every path that holds it.

    A cache entry is hashed as it is copied out; one that does not match is dropped and downloaded again. A file
    with a Hub source comes from the registry when it holds the bytes (mirrored), else from the Hub."""
    entry = group[0][0]
    if entry.get("source"):
        try:
            return _fetch_and_place_blob(api, cache, name, group, advance)
        except NotFound:
            return _fetch_and_place_from_hub(group, advance)
    return _fetch_and_place_blob(api, cache, name, group, advance)


def _fetch_and_place_from_hub(group: list, advance) -> int:
    """The file through huggingface_hub (its cache, or the Hub), its size checked, then copied to every path that
    holds it, hashed as it is copied: a copy that does not match the manifest is never put in place."""
    entry = group[0][0]
    cached, downloaded = hub.fetch(entry)
    advance(entry["size"])
    for _, target in group:
        actual = hub.place_checked(cached, target, entry["sha256"])
        if actual is not None:
            raise hub.mismatch(entry, cached, actual)
    return downloaded


def _fetch_and_place_blob(api: ApiClient, cache: BlobCache, name: str, group: list, advance) -> int:
    entry = group[0][0]
    digest, size = entry["sha256"], entry["size"]
    cached, downloaded = fetch_blob(api, cache, name, entry["path"], digest, size, advance)
    checked = downloaded > 0 or size == 0
    if not downloaded:
        advance(size)
    for _, target in group:
        if place_file(cached, target, None if checked else digest):
            checked = True
            continue
        cache.evict(digest)
        cached, count = fetch_blob(api, cache, name, entry["path"], digest, size, advance)
        downloaded += count
        checked = True
        if not place_file(cached, target, digest):
            raise IntegrityError(f"{entry['path']}: the copy of the downloaded blob does not hash to {digest}",
                                 code="DIGEST_MISMATCH", details={"path": entry["path"]})
    return downloaded
