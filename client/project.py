"""Reading the author's folder: ``regctl.yaml``, the files its globs name, and the manifest built from them.

Every problem is collected and reported together, by field path, before anything is hashed or uploaded.

File selection: ``files`` lists globs relative to the folder; a folder stands for every file below it, and
``"."`` for the whole folder. Hidden files and folders (``.env``, ``.git/``, ``.venv/``) are left out unless a
pattern names them (``.env``, ``.github/*``, ``.*``). Files that look like secrets (``.env``, keys, credentials)
are selected when named, with a warning.
"""

import fnmatch
import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from marshmallow import ValidationError

from regctl.errors import InvalidProjectError
from regctl.hub import HubFile
from reproreg_schemas.bounded_yaml import load_bounded_yaml, to_json_data
from reproreg_schemas.checklist import checklist_summary, mechanical_warnings
from reproreg_schemas.errors import flatten_messages
from reproreg_schemas.manifest import MANIFEST_VERSION, AuthorFileSchema, canonical_manifest
from reproreg_schemas.names import normalise_relative_path

PROJECT_FILE = "regctl.yaml"
MAX_SIDE_FILE_BYTES = 1 << 20
MEDIA_TYPES = {
    ".safetensors": "application/vnd.safetensors",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".json": "application/json",
    ".py": "text/x-python",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".toml": "application/toml",
    ".onnx": "application/onnx",
    ".npz": "application/x-npz",
}
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
#: the pattern that stands for the whole folder
WHOLE_FOLDER = "."
#: names of files that usually hold secrets (matched against the file's name, case-insensitively)
SECRET_PATTERNS = (".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*", "id_ecdsa*",
                   "id_ed25519*", "credentials*", ".netrc", ".pypirc")


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def secret_pattern(path: str) -> str | None:
    """The secret-file pattern that ``path``'s name matches, if any."""
    name = Path(path).name.lower()
    return next((pattern for pattern in SECRET_PATTERNS if fnmatch.fnmatchcase(name, pattern)), None)


@dataclass(eq=False)
class LocalFile:
    path: str  # normalised, relative to the project folder
    absolute: Path
    size: int
    media_type: str
    fingerprint: str | None = None


@dataclass
class Project:
    folder: Path
    author: dict  # regctl.yaml, validated and normalised
    files: list[LocalFile] = field(default_factory=list)
    #: what is selected but may not be meant to be published: ``{"path", "message"}``
    file_warnings: list[dict] = field(default_factory=list)
    #: files that live on the Hugging Face Hub (``files`` entries with a ``source``): listed, not read from disk
    hub_files: list[HubFile] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.author["name"]

    @property
    def version(self) -> str:
        return self.author["version"]

    @property
    def release(self) -> dict:
        return self.author["release"]

    @property
    def claims(self) -> list[dict]:
        return self.author.get("claims") or []

    @property
    def evaluation(self) -> dict | None:
        return self.author.get("evaluation")

    def paths(self) -> list[str]:
        """Every file's path in the version: those in the folder and those on the Hub."""
        return sorted([f.path for f in self.files] + [f.path for f in self.hub_files])

    def checklist(self) -> dict:
        """How far the checklist is answered, with the answers the files contradict (see checklist_summary)."""
        warnings = mechanical_warnings(self.author.get("checklist") or {}, self.paths(),
                                       (self.evaluation or {}).get("command"))
        return checklist_summary(self.author.get("checklist") or {}, warnings)

    def manifest(self, digests: dict[str, str]) -> dict:
        """The canonical manifest, given the sha256 of every file by path."""
        metadata = {key: value for key, value in self.author.items() if key not in ("files", "release")}
        entries = [{"path": f.path, "size": f.size, "sha256": digests[f.path], "media_type": f.media_type}
                   for f in self.files]
        entries += [{"path": f.path, "size": f.size, "sha256": f.sha256, "media_type": f.media_type,
                     "source": f.source} for f in self.hub_files]
        raw = AuthorFileSchema().dump(metadata)
        raw.pop("files", None)
        raw.pop("release", None)
        return canonical_manifest({**raw, "manifest_version": MANIFEST_VERSION, "files": entries})


def load_project(folder: Path) -> Project:
    folder = Path(folder)
    problems: dict[str, list[str]] = {}
    raw = _read_yaml(folder / PROJECT_FILE, PROJECT_FILE, problems, required=True)
    if raw is None:
        raise _invalid(folder, problems)
    if not isinstance(raw, dict):
        raise _invalid(folder, {"(file)": ["regctl.yaml must be a mapping of fields (name, version, ...)"]})
    if isinstance(raw.get("checklist"), str):
        raw = {**raw, "checklist": _read_side_file(folder, raw["checklist"], "checklist", problems)}
    author = None
    try:
        author = AuthorFileSchema().load(raw)
    except ValidationError as err:  # a side file that could not be read is already reported, with the reason
        problems.update({key: messages for key, messages in flatten_messages(err.messages).items()
                         if key not in problems})
    patterns = raw.get("files") if isinstance(raw.get("files"), list) else []
    files = _resolve_files(folder, patterns, problems)  # path problems are listed with the schema's
    if author is None:
        raise _invalid(folder, problems)
    hub_files = [HubFile(path=entry["path"], source=entry["source"], size=entry["size"], sha256=entry["sha256"],
                         media_type=_media_type(entry["path"])) for entry in author["files"] if isinstance(entry, dict)]
    project = Project(folder=folder, author=author, files=files, file_warnings=_secret_warnings(files),
                      hub_files=hub_files)
    config = (author.get("training") or {}).get("config")
    if config and config in {f.path for f in project.files}:
        _read_side_file(folder, config, "training.config", problems, as_json=True)
    if not problems:
        try:  # the cross-field rules of the manifest, before anything is hashed
            project.manifest(dict.fromkeys((f.path for f in project.files), PLACEHOLDER_DIGEST))
        except ValidationError as err:
            problems.update(flatten_messages(err.messages))
    if problems:
        raise _invalid(folder, problems)
    return project


def _invalid(folder: Path, problems: dict[str, list[str]]) -> InvalidProjectError:
    count = sum(len(messages) for messages in problems.values())
    return InvalidProjectError(f"{folder / PROJECT_FILE} has {count} problem(s); nothing was uploaded",
                               code="INVALID_PROJECT", details={"problems": problems})


def _read_yaml(path: Path, label: str, problems: dict, required: bool = False, as_json: bool = False):
    """The parsed file, or None with the reason added to ``problems``; ``as_json``: as the registry will store it
    (aliases expanded, bounded like the registry's own parsing)."""
    try:
        if path.stat().st_size > MAX_SIDE_FILE_BYTES:
            problems.setdefault(label, []).append(f"{path.name} is larger than {MAX_SIDE_FILE_BYTES} bytes")
            return None
        with open(path, encoding="utf-8") as handle:
            data = load_bounded_yaml(handle.read())
        return to_json_data(data, max_bytes=2 * MAX_SIDE_FILE_BYTES) if as_json else data
    except FileNotFoundError:
        problems.setdefault(label, []).append(
            f"{path} does not exist" + ("; 'regctl init' writes one to fill in" if required else ""))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        problems.setdefault(label, []).append(" ".join(f"cannot read {path.name}: {err}".split()))
    return None


def _inside(folder: Path, relative: str, label: str, problems: dict) -> Path | None:
    """The absolute path of a relative one, refusing anything (symlinks included) that leaves ``folder``."""
    try:
        relative = normalise_relative_path(relative)
    except ValidationError as err:
        problems.setdefault(label, []).extend(err.messages)
        return None
    root = folder.resolve()
    target = (folder / relative).resolve()
    if target != root and root not in target.parents:
        problems.setdefault(label, []).append(f"{relative!r} points outside the folder (symbolic link?)")
        return None
    return folder / relative


def _read_side_file(folder: Path, relative, label: str, problems: dict, as_json: bool = False):
    if not isinstance(relative, str):
        problems.setdefault(label, []).append("must be a file path or a mapping")
        return None
    path = _inside(folder, relative, label, problems)
    return _read_yaml(path, label, problems, as_json=as_json) if path is not None else None


def _resolve_files(folder: Path, patterns: list[str], problems: dict) -> list[LocalFile]:
    found: dict[str, LocalFile] = {}
    for index, pattern in enumerate(patterns):
        label = f"files[{index}]"
        if not isinstance(pattern, str) or not pattern:
            continue  # the schema reports it
        if pattern.strip().rstrip("/") in (WHOLE_FOLDER, ""):
            normalised, matches = WHOLE_FOLDER, [folder]
        else:
            try:
                normalised = normalise_relative_path(pattern)
            except ValidationError as err:
                problems.setdefault(label, []).extend(err.messages)
                continue
            matches = sorted(folder.glob(normalised))
        named = [part for part in Path(normalised).parts if is_hidden(part) and part != WHOLE_FOLDER]
        visible = [match for match in matches if not _hidden_unless_named(match.relative_to(folder).parts, named)]
        if not matches:
            problems.setdefault(label, []).append(f"{pattern!r} matches no file")
        elif not visible:
            problems.setdefault(label, []).append(
                f"{pattern!r} matches only hidden files or folders ({_shown(matches, folder)}); name them "
                "explicitly (e.g. '.env' or '.github/*') to include them")
        for match in _expand_directories(visible):
            relative = match.relative_to(folder).as_posix()
            absolute = _inside(folder, relative, label, problems)
            if absolute is None or relative in found:
                continue
            if not absolute.is_file():
                problems.setdefault(label, []).append(f"{relative!r} is not a regular file")
                continue
            found[relative] = LocalFile(relative, absolute, os.stat(absolute).st_size, _media_type(relative))
    return sorted(found.values(), key=lambda f: f.path)


def _hidden_unless_named(parts: tuple[str, ...], named: list[str]) -> bool:
    """Whether a matched path goes through a hidden file or folder that no hidden part of the pattern names."""
    return any(is_hidden(part) and not any(fnmatch.fnmatchcase(part, pattern) for pattern in named)
               for part in parts)


def _shown(paths: list[Path], folder: Path) -> str:
    names = [path.relative_to(folder).as_posix() for path in paths[:3]]
    return ", ".join(names) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _expand_directories(matches: list[Path]) -> list[Path]:
    """A matched folder stands for every file below it, hidden files and folders below it left out (they are never
    walked into). A symbolic link below it is listed as it is (and refused later if it leaves the folder or is not
    a regular file)."""
    expanded = []
    for match in matches:
        if not match.is_dir() or match.is_symlink():
            expanded.append(match)
            continue
        for root, dirs, names in os.walk(match):
            base = Path(root)
            linked = [name for name in dirs if (base / name).is_symlink() and not is_hidden(name)]
            dirs[:] = sorted(name for name in dirs if not is_hidden(name) and name not in linked)
            expanded.extend(sorted(base / name for name in [*names, *linked] if not is_hidden(name)))
    return expanded


def _secret_warnings(files: list[LocalFile]) -> list[dict]:
    warnings = []
    for local in files:
        pattern = secret_pattern(local.path)
        if pattern:
            warnings.append({"path": local.path, "message": f"{local.path} looks like a secret ({pattern}); anyone "
                             "who can read this version can read it: take it out of files unless it is meant to "
                             "be published"})
    return warnings


def _media_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
