"""Files that live on the Hugging Face Hub, through huggingface_hub's public API only.

A version may list a Hub file by its pinned source (``hf://ORG/NAME@<commit>/<path>``) with the size and SHA-256 the
Hub publishes for it (its LFS oid; a small file that is not in LFS is downloaded and hashed). Its bytes are fetched
with ``hf_hub_download`` at the pinned commit, so ``HF_ENDPOINT``, ``HF_HOME`` and offline mode (``HF_HUB_OFFLINE``)
apply and the Hub cache is shared with the user's other tools; they are checked against the manifest's size and
SHA-256 exactly as registry blobs are, before anything is written or run.

huggingface_hub reads its settings (HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE) when it is imported: it is imported here
only when a Hub file is used, never at regctl's start.
"""

import os
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from marshmallow import ValidationError

from regctl.errors import ConnectionFailed, IntegrityError, NotFound, UsageError
from regctl.hashing import sha256_file
from reproreg_schemas.manifest import COMMIT_RE, parse_hub_source
from reproreg_schemas.names import validate_full_name

#: the repository types a source may name (models only, as ``hf://ORG/NAME`` does on the Hub)
REPO_TYPE = "model"


@dataclass(eq=False)
class HubFile:
    """A file of the version that lives on the Hub."""

    path: str  # in the version
    source: str  # hf://ORG/NAME@<commit>/<path>
    size: int
    sha256: str  # sha256:<64 hex>
    media_type: str

    @property
    def repo(self) -> str:
        return parse_hub_source(self.source)[0]

    @property
    def commit(self) -> str:
        return parse_hub_source(self.source)[1]

    @property
    def filename(self) -> str:
        return parse_hub_source(self.source)[2]


def source_of(repo: str, commit: str, filename: str) -> str:
    return f"hf://{repo}@{commit}/{filename}"


def hub_page(source: str) -> str:
    """The file's page on the Hub (the default endpoint; the registry does not know the user's mirror)."""
    repo, commit, filename = parse_hub_source(source)
    return f"https://huggingface.co/{repo}/blob/{commit}/{filename}"


def _hub():
    """huggingface_hub, imported on first use (it reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE when imported)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import huggingface_hub

    return huggingface_hub


def _translated(err: Exception, what: str) -> Exception:
    """A huggingface_hub failure as regctl's error (and exit code)."""
    from huggingface_hub import errors

    if isinstance(err, (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled)):  # before EntryNotFound
        return ConnectionFailed(f"{what}: not in the Hub cache and the Hub cannot be reached (offline mode, or no "
                                f"network): {_first_line(err)}", code="HUB_UNREACHABLE")
    if isinstance(err, (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.EntryNotFoundError)):
        return NotFound(f"{what}: the Hub answered: {_first_line(err)}", code="HUB_NOT_FOUND")
    if isinstance(err, errors.HfHubHTTPError):
        return ConnectionFailed(f"{what}: the Hub answered an error: {_first_line(err)}", code="HUB_UNREACHABLE")
    if isinstance(err, OSError) and "Consistency check failed" in str(err):
        return IntegrityError(f"{what}: the Hub sent another size than it announced; nothing was written",
                              code="SIZE_MISMATCH")
    return ConnectionFailed(f"{what}: cannot reach the Hub: {_first_line(err)}", code="HUB_UNREACHABLE")


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _hub_errors() -> tuple[type[Exception], ...]:
    import httpx2
    from huggingface_hub import errors

    return (errors.HfHubHTTPError, errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled, httpx2.HTTPError,
            OSError)


def download(repo: str, commit: str, filename: str) -> Path:
    """The file at the pinned commit, from the Hub cache or the Hub (hf_hub_download). Not checked: see fetch."""
    hub = _hub()
    try:
        return Path(hub.hf_hub_download(repo, filename, revision=commit, repo_type=REPO_TYPE))
    except _hub_errors() as err:
        raise _translated(err, f"hf://{repo}@{commit}/{filename}") from None


def fetch(entry: dict) -> tuple[Path, int]:
    """A manifest entry's Hub file, downloaded into (or found in) the Hub cache, with its size checked, and the
    bytes downloaded (0 when the Hub cache had it). Its SHA-256 is checked by whoever copies it out (hashing as it
    copies), before it is visible."""
    repo, commit, filename = parse_hub_source(entry["source"])
    hub = _hub()
    already = hub.try_to_load_from_cache(repo, filename, revision=commit, repo_type=REPO_TYPE)
    path = download(repo, commit, filename)
    size = path.stat().st_size
    if size != entry["size"]:
        raise IntegrityError(f"{entry['path']}: the Hub's file {entry['source']} has {size} bytes, the manifest "
                             f"says {entry['size']}; nothing was written", code="SIZE_MISMATCH",
                             details={"path": entry["path"], "expected": entry["size"], "actual": size,
                                      "cached": str(path)})
    return path, 0 if isinstance(already, str) else size


def place_checked(source: Path, destination: Path, digest: str) -> str | None:
    """Put a private copy of ``source`` at ``destination`` only if it hashes to ``digest``; returns None when it was
    put in place, else the digest the bytes have (and nothing is left behind).

    The copy is made in the kernel (a reflink where the file system can, else copy_file_range) into a temporary
    file beside the destination while another thread hashes the source; the copy is renamed into place only if the
    hash matches and the source did not change meanwhile (same inode, size and modification time), so the copy holds
    the bytes that were hashed. For a large file this costs about the hashing alone, not hashing plus copying."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f".{destination.name}.regctl-{secrets.token_hex(6)}.tmp")
    before = os.stat(source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="regctl-hash") as pool:
        hashing = pool.submit(sha256_file, source)
        try:
            shutil.copyfile(source, temp)
            actual, size = hashing.result()
            after = os.stat(source)
            same = (before.st_ino, before.st_size, before.st_mtime_ns) == (after.st_ino, after.st_size,
                                                                           after.st_mtime_ns)
            if not same:
                actual, size = sha256_file(temp)  # the source changed: judge the copy itself
            if actual != digest or size != temp.stat().st_size:
                temp.unlink()
                return actual
            os.replace(temp, destination)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    return None


def mismatch(entry: dict, cached: Path, actual: str | None = None) -> IntegrityError:
    hashed = f"hash to {actual}" if actual else "do not hash to"
    return IntegrityError(f"{entry['path']}: the bytes from {entry['source']} {hashed}"
                          f"{', not' if actual else ''} {entry['sha256']}; nothing was written. The Hub's file (or "
                          f"the Hub cache at {cached}) is not the one the version pins", code="DIGEST_MISMATCH",
                          details={"path": entry["path"], "expected": entry["sha256"], "actual": actual,
                                   "source": entry["source"], "cached": str(cached)})


def checked_local_copy(entry: dict) -> Path:
    """The Hub file in the Hub cache after hashing it in full: for uploading (``push --mirror``)."""
    path, _ = fetch(entry)
    actual, _ = sha256_file(path, size_hint=entry["size"])
    if actual != entry["sha256"]:
        raise mismatch(entry, path, actual)
    return path


def check_against_hub(files: list[HubFile]) -> None:
    """Ask the Hub what it publishes for each file (paths-info at the pinned commit: size, and the LFS oid); a file
    that is not in LFS is downloaded (it is small) and hashed. Sends nothing anywhere; raises IntegrityError when
    regctl.yaml and the Hub disagree, NotFound when the file is not there."""
    hub = _hub()
    by_repo: dict[tuple[str, str], list[HubFile]] = {}
    for hub_file in files:
        by_repo.setdefault((hub_file.repo, hub_file.commit), []).append(hub_file)
    api = hub.HfApi()
    for (repo, commit), group in by_repo.items():
        try:
            infos = api.get_paths_info(repo, [f.filename for f in group], revision=commit, expand=True,
                                       repo_type=REPO_TYPE)
        except _hub_errors() as err:
            raise _translated(err, f"hf://{repo}@{commit}") from None
        published = {info.path: info for info in infos if isinstance(info, hub.hf_api.RepoFile)}
        for hub_file in group:
            info = published.get(hub_file.filename)
            if info is None:
                raise NotFound(f"{hub_file.path}: the Hub has no file {hub_file.source}", code="HUB_NOT_FOUND",
                               details={"path": hub_file.path, "source": hub_file.source})
            if info.lfs is not None:
                size, digest = info.lfs.size, "sha256:" + info.lfs.sha256
            else:
                size, digest = info.size, sha256_file(download(repo, commit, hub_file.filename),
                                                      size_hint=info.size)[0]
            if (size, digest) != (hub_file.size, hub_file.sha256):
                raise IntegrityError(f"{hub_file.path}: the Hub publishes {digest} ({size} bytes) for "
                                     f"{hub_file.source}, regctl.yaml says {hub_file.sha256} ({hub_file.size} "
                                     "bytes)", code="DIGEST_MISMATCH",
                                     details={"path": hub_file.path, "expected": hub_file.sha256, "actual": digest})


# --- regctl init --from-hf -------------------------------------------------------------------------------------


@dataclass
class HubRepo:
    """A Hub repository at one commit: its files (path, size, sha256, lfs) and its model card's data."""

    repo: str
    revision: str
    commit: str
    files: list[dict]
    card: dict  # license, datasets, base_model, paper links, results (claims)


def parse_repo_reference(text: str) -> tuple[str, str | None]:
    """``ORG/NAME[@REVISION]``."""
    repo, _, revision = text.partition("@")
    try:
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ValidationError("expected ORG/NAME")
        parse_hub_source(f"hf://{repo}@{'0' * 40}/x")
    except ValidationError as err:
        raise UsageError(f"--from-hf {text!r}: {err.messages[0]}; expected ORG/NAME[@REVISION]",
                         code="INVALID_NAME") from None
    return repo, revision or None


def describe_repo(text: str) -> HubRepo:
    """Resolve the revision to a commit and list the files with their sizes and SHA-256 (LFS oids; other files
    downloaded at that commit and hashed), and read the model card."""
    repo, revision = parse_repo_reference(text)
    hub = _hub()
    try:
        info = hub.HfApi().model_info(repo, revision=revision, files_metadata=True)
    except _hub_errors() as err:
        raise _translated(err, f"{repo}@{revision or 'main'}") from None
    commit = info.sha
    if not commit or not COMMIT_RE.fullmatch(commit):
        raise IntegrityError(f"the Hub did not resolve {text} to a commit (answered {commit!r})",
                             code="HUB_NOT_FOUND")
    files = []
    for sibling in sorted(info.siblings or [], key=lambda s: s.rfilename):
        if sibling.rfilename.startswith(".") or "/." in sibling.rfilename:
            continue  # .gitattributes and other hidden files are the repository's, not the model's
        if sibling.lfs is not None:
            size, digest = sibling.lfs.size, "sha256:" + sibling.lfs.sha256
        else:
            digest, size = sha256_file(download(repo, commit, sibling.rfilename), size_hint=sibling.size or 0)
        files.append({"path": sibling.rfilename, "size": size, "sha256": digest, "lfs": sibling.lfs is not None,
                      "source": source_of(repo, commit, sibling.rfilename)})
    readme = next((f for f in files if f["path"] == "README.md"), None)
    card = read_card(download(repo, commit, "README.md")) if readme else {}
    return HubRepo(repo=repo, revision=revision or "main", commit=commit, files=files, card=card)


def read_card(path: Path) -> dict:
    """The model card's license, datasets, base model, paper links and ``model-index`` results (as claims)."""
    hub = _hub()
    try:
        card = hub.ModelCard.load(path, ignore_metadata_errors=True)
    except (ValueError, OSError) as err:
        return {"error": _first_line(err)}
    data = card.data
    datasets = data.datasets if isinstance(data.datasets, list) else ([data.datasets] if data.datasets else [])
    base = data.base_model if isinstance(data.base_model, list) else ([data.base_model] if data.base_model else [])
    claims = [claim_of(result) for result in data.eval_results or []]
    return {"license": data.license, "datasets": [str(d) for d in datasets], "base_model": [str(b) for b in base],
            "papers": paper_links(card.text), "model_name": data.model_name,
            "claims": [claim for claim in claims if claim is not None]}


def paper_links(text: str) -> list[str]:
    import re

    found = re.findall(r"https?://(?:arxiv\.org/(?:abs|pdf)/(?:\d{4}\.\d{4,5}|[a-z-]+/\d{7})(?:v\d+)?"
                       r"|(?:www\.)?aclanthology\.org/[\w.-]+|(?:dx\.)?doi\.org/[^\s)\]>]+)", text or "")
    return list(dict.fromkeys(link.rstrip(".,;:") for link in found))


def claim_of(result) -> dict | None:
    """One ``model-index`` result as a claim: metric, dataset and split, value (the author sets the tolerance)."""
    try:
        value = float(result.metric_value)
    except (TypeError, ValueError):
        return None
    dataset = result.dataset_type or result.dataset_name
    if result.dataset_config:
        dataset = f"{dataset}/{result.dataset_config}"
    if result.dataset_split:
        dataset = f"{dataset}/{result.dataset_split}"
    return {"metric": result.metric_type, "value": value, "dataset": dataset,
            "task": result.task_type, "dataset_name": result.dataset_name}


def validate_artifact_name(name: str) -> None:
    try:
        validate_full_name(name)
    except ValidationError as err:
        raise UsageError(f"--name {name!r}: {err.messages[0]}", code="INVALID_NAME") from None


# --- regctl export --model-card ----------------------------------------------------------------------------------


def model_index(document: dict, claims_measured: list[dict], page_url: str) -> list[dict]:
    """The ``model-index`` of a version's claims, each with what the latest trusted verification measured (or
    the claimed value where none did) and a source link to the version's page (EvalResult / ModelCardData)."""
    hub = _hub()
    from huggingface_hub.repocard_data import eval_results_to_model_index

    results = []
    for claim in claims_measured:
        dataset, _, split = claim["dataset"].rpartition("/")
        dataset = dataset or claim["dataset"]
        split = split if dataset != claim["dataset"] else None
        measured = claim.get("measured")
        results.append(hub.EvalResult(
            task_type=claim.get("task") or "other", dataset_type=dataset, dataset_name=dataset,
            dataset_split=split, metric_type=claim["metric"], metric_name=claim["metric"],
            metric_value=measured if measured is not None else claim["value"],
            source_name=f"Reproducibility Registry ({claim['verdict']})", source_url=page_url))
    return eval_results_to_model_index(document["name"].split("/")[1], results) if results else []
