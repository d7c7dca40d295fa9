"""``regctl init``: a first, commented ``regctl.yaml`` for a folder.

The file lists the files found (weights, dependency files and configs recognised), every item of the ML
Reproducibility Checklist with its question, unanswered, and commented sections for the claims, the evaluation
and the rest. As written it is a valid draft (``regctl check`` accepts it); answering the checklist makes it
complete, and adding claims and an evaluation makes it verifiable.
"""

import getpass
import glob
import json
import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from marshmallow import ValidationError

from regctl.errors import RegctlError, UsageError
from regctl.project import PROJECT_FILE, is_hidden, secret_pattern
from reproreg_schemas.bounded_yaml import load_bounded_yaml
from reproreg_schemas.checklist import ITEMS, is_dependency_file, is_weights_file
from reproreg_schemas.names import NAMESPACE_RE, normalise_relative_path, validate_full_name, validate_one_line

#: a folder with more files than this is listed by its top-level entries (a folder stands for every file below it)
MAX_LISTED_FILES = 200
#: files larger than this are not read when looking for a training config or a model card
MAX_READ_BYTES = 1 << 20
DEFAULT_VERSION = "1.0.0"
COMMENT_COLUMN = 40
EVALUATION_SCRIPTS = ("eval*.py", "evaluate*.py", "test*.py", "benchmark*.py")
TRAINING_SCRIPTS = ("train*.py", "finetune*.py", "fine_tune*.py")
MODEL_CARDS = ("README.md", "readme.md", "README.MD", "MODEL_CARD.md", "model_card.md")


@dataclass
class FolderScan:
    """What ``regctl init`` found in a folder (paths relative to it, in order)."""

    folder: Path
    files: list[str] = field(default_factory=list)
    weights: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    evaluation_scripts: list[str] = field(default_factory=list)
    training_scripts: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # left out: hidden files and folders
    secrets: list[str] = field(default_factory=list)  # left out: files that look like secrets
    refused: list[str] = field(default_factory=list)  # left out: names a version cannot hold (control characters)
    training_config: str | None = None
    readme: str | None = None
    title: str | None = None
    license: str | None = None


def scan_folder(folder: Path) -> FolderScan:
    scan = FolderScan(folder=folder)
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        scan.hidden += [(base / name).relative_to(folder).as_posix() + "/" for name in sorted(dirs) if is_hidden(name)]
        scan.refused += [(base / name).relative_to(folder).as_posix() + "/" for name in sorted(dirs)
                         if not is_hidden(name) and not _acceptable(name)]
        dirs[:] = sorted(name for name in dirs if not is_hidden(name) and _acceptable(name))
        for name in sorted(names):
            relative = (base / name).relative_to(folder).as_posix()
            if relative == PROJECT_FILE:
                continue
            if not _acceptable(relative):
                scan.refused.append(relative)
            elif is_hidden(name):
                scan.hidden.append(relative)
            elif secret_pattern(relative):
                scan.secrets.append(relative)
            elif (base / name).is_file() and not (base / name).is_symlink():
                scan.files.append(relative)
    scan.files.sort()
    for path in scan.files:
        name = path.rsplit("/", 1)[-1].lower()
        if is_weights_file(path):
            scan.weights.append(path)
        if is_dependency_file(path):
            scan.dependencies.append(path)
        elif _is_config(name):
            scan.configs.append(path)
        if "/" not in path and any(fnmatchcase(name, pattern) for pattern in EVALUATION_SCRIPTS):
            scan.evaluation_scripts.append(path)
        if "/" not in path and any(fnmatchcase(name, pattern) for pattern in TRAINING_SCRIPTS):
            scan.training_scripts.append(path)
    scan.readme = next((name for name in MODEL_CARDS if name in scan.files), None)
    scan.training_config = next((path for path in scan.configs if "train" in path.lower()
                                 and _parses(folder / path)), None)
    _read_model_card(scan)
    return scan


def _acceptable(path: str) -> bool:
    try:
        normalise_relative_path(path)
    except ValidationError:
        return False
    return True


def _shown(path: str) -> str:
    """A path as a YAML comment may show it (one line, nothing that could end the comment)."""
    return path if path.isprintable() else json.dumps(path)


def _is_config(name: str) -> bool:
    if name.endswith((".yaml", ".yml")):
        return True
    return name.endswith(".json") and "config" in name


def _parses(path: Path) -> bool:
    """Whether a file would be accepted as the training config (YAML or JSON, within the size limit)."""
    try:
        if path.stat().st_size > MAX_READ_BYTES:
            return False
        load_bounded_yaml(path.read_text(encoding="utf-8"))
        return True
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False


def _read_model_card(scan: FolderScan) -> None:
    """The title (first heading) and license (front matter) of a model card such as Hugging Face's README.md."""
    if scan.readme is None:
        return
    path = scan.folder / scan.readme
    try:
        if path.stat().st_size > MAX_READ_BYTES:
            return
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end > 0:
            body = text[end + 4:]
            try:
                front = load_bounded_yaml(text[4:end])
            except yaml.YAMLError:
                front = None
            if isinstance(front, dict) and isinstance(front.get("license"), str):
                scan.license = _one_line(front["license"], 100)
    heading = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.MULTILINE)
    if heading:
        scan.title = _one_line(heading.group(1), 300)


def _one_line(text: str, limit: int) -> str | None:
    text = " ".join(text.split())
    try:
        validate_one_line(text)
    except ValidationError:
        return None
    return text[:limit] or None


def slug(text: str, limit: int) -> str:
    """A name part the registry accepts: lowercase letters, digits and '-', starting and ending with either."""
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:limit].strip("-")


def default_namespace(whoami=None) -> str:
    """The registry's answer to who you are when it can be asked, else your login name."""
    if whoami is not None:
        try:
            return whoami()["name"]
        except RegctlError:  # init works offline: the name can be changed in the file
            pass
    try:
        name = slug(getpass.getuser(), 40)
    except (KeyError, OSError):
        name = ""
    return name if NAMESPACE_RE.fullmatch(name or "") else "me"


def default_name(folder: Path, namespace: str) -> str:
    return f"{namespace}/{slug(folder.resolve().name, 100) or 'artifact'}"


def write_scaffold(folder: Path, name: str | None = None, force: bool = False, whoami=None) -> dict:
    """Write ``folder/regctl.yaml``; refuses to overwrite one unless ``force``. Returns what was found."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder", code="NOT_A_FOLDER")
    target = folder / PROJECT_FILE
    if (target.exists() or target.is_symlink()) and not force:
        raise UsageError(f"{target} already exists; edit it, or pass --force to replace it", code="PROJECT_EXISTS")
    if name is None:
        name = default_name(folder, default_namespace(whoami))
    try:
        validate_full_name(name)
    except ValidationError as err:
        raise UsageError(f"--name {name!r}: {err.messages[0]}", code="INVALID_NAME") from None
    scan = scan_folder(folder)
    if not scan.files:
        raise UsageError(f"{folder} has no files to publish (hidden files and files that look like secrets are "
                         "left out)", code="NO_FILES")
    text = render(scan, name)
    temp = target.with_name(f".{PROJECT_FILE}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, target)
    return {"path": str(target), "name": name, "version": DEFAULT_VERSION, "files": scan.files,
            "listed": _file_entries(scan), "weights": scan.weights, "dependencies": scan.dependencies,
            "configs": scan.configs, "training_config": scan.training_config, "left_out": {
                "hidden": scan.hidden, "secrets": scan.secrets, "refused": scan.refused},
            "checklist_items": len(ITEMS)}


def _file_entries(scan: FolderScan) -> list[str]:
    """The ``files`` patterns: every file, or past MAX_LISTED_FILES every top-level entry (a folder stands for
    every file below it). Each is a glob with its special characters escaped."""
    if len(scan.files) <= MAX_LISTED_FILES:
        return [glob.escape(path) for path in scan.files]
    # a folder holding a file left out as a secret is listed file by file, so that the secret stays out
    kept_apart = {path.split("/", 1)[0] for path in scan.secrets if "/" in path}
    return sorted({glob.escape(path if path.split("/", 1)[0] in kept_apart else path.split("/", 1)[0])
                   for path in scan.files})


def _quote(value: str) -> str:
    """A YAML scalar: plain when YAML reads it back unchanged as a string, else double-quoted."""
    try:
        if re.fullmatch(r"[A-Za-z0-9_./-][A-Za-z0-9 _./()+-]*", value) and yaml.safe_load(value) == value:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value, ensure_ascii=False)


def _kind(scan: FolderScan, path: str) -> str:
    kinds = [label for label, group in (("weights", scan.weights), ("dependencies", scan.dependencies),
                                        ("config", scan.configs), ("evaluation code", scan.evaluation_scripts),
                                        ("training code", scan.training_scripts)) if path in group]
    return ", ".join(kinds)


def _commented(line: str, comment: str) -> str:
    return f"{line.ljust(COMMENT_COLUMN - 1)} # {comment}" if comment else line


def _hints(scan: FolderScan) -> dict[str, str]:
    """Files that may serve as evidence for some checklist items."""
    hints = {
        "CO1": scan.dependencies, "CO2": scan.training_scripts, "CO3": scan.evaluation_scripts, "CO4": scan.weights,
        "CO5": [scan.readme] if scan.readme else [], "ER1": [scan.training_config] if scan.training_config else [],
    }
    return {item: ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "") for item, paths in hints.items()
            if paths}


def render(scan: FolderScan, name: str) -> str:
    title = scan.title or scan.folder.resolve().name or name.split("/")[1]
    title = _one_line(title, 300) or name.split("/")[1]
    lines = [
        f"# regctl.yaml for {name}: what 'regctl push' publishes. Written by 'regctl init'; edit it, then run",
        "# 'regctl check' to see what push would do. See the README (regctl.yaml) for every field.",
        _commented(f"name: {_quote(name)}", "namespace/name on the registry"),
        _commented(f"version: {DEFAULT_VERSION}", "semantic version; a published version never changes"),
        f"title: {_quote(title)}",
    ]
    if scan.license:
        lines.append(_commented(f"license: {_quote(scan.license)}", f"from {scan.readme}"))
    else:
        lines.append(_commented("license: unknown", "an SPDX identifier, e.g. apache-2.0, mit, cc-by-4.0"))
    lines += [
        "# paper: {title: \"...\", url: \"https://arxiv.org/abs/...\", venue: neurips-2026, authors: [...]}",
        "",
        "# The files of the version: globs relative to this file; a folder stands for every file below it and",
        "# \".\" for the whole folder. Hidden files and folders are left out unless named (\".env\", \".github/*\").",
    ]
    left_out = [*map(_shown, scan.hidden), *(f"{_shown(path)} (looks like a secret)" for path in scan.secrets),
                *(f"{_shown(path)} (a name a version cannot hold)" for path in scan.refused)]
    if left_out:
        shown = ", ".join(left_out[:8]) + (f" and {len(left_out) - 8} more" if len(left_out) > 8 else "")
        lines.append(f"# Left out: {shown}.")
    lines.append("files:")
    for entry in _file_entries(scan):
        lines.append(_commented(f"  - {_quote(entry)}", _kind(scan, entry)))
    lines += ["", "training:"]
    if scan.training_config:
        lines.append(_commented(f"  config: {_quote(scan.training_config)}",
                                "stored verbatim and parsed (YAML or JSON)"))
    else:
        example = min(scan.configs, key=lambda path: (path.count("/"), path)) if scan.configs else "configs/train.yaml"
        lines.append(_commented(f"  # config: {_shown(example)}", "the training configuration, one of the files"))
    lines += [
        "  # code: {repo: \"https://github.com/...\", commit: 3f2c1ab}",
        _commented("  # compute: {hardware: \"8x A100 80GB\", hours: 190}", "any accelerator: \"TPU v4-32\", \"CPU\""),
        "",
        "# The ML Reproducibility Checklist (Pineau, v2.0). Answer each item: answer (yes, no or n/a), justification",
        "# (a sentence or two) and, optionally, evidence (a file of this version or a claimed metric). Items left",
        "# empty are unanswered: the version is published as a draft and shows how many items are answered.",
        "checklist:",
    ]
    hints = _hints(scan)
    for item, question in ITEMS.items():
        hint = f" (found: {hints[item]})" if item in hints else ""
        lines += [f"  # {item}. {question}{hint}", f"  {item}:", "    answer:", "    justification:",
                  "    evidence:"]
    command = ("python {files}/" + scan.evaluation_scripts[0] if scan.evaluation_scripts
               else "python {files}/eval.py") + " --out {metrics}"
    lines += [
        "",
        "# What the version claims, and the command that checks it. Leave both out for a version with nothing to",
        "# verify (a base model, a dataset, a detector): it is published with no claims to verify.",
        "# claims:",
        "#   - {metric: accuracy, value: 0.953, dataset: cifar10/test, tolerance: {abs: 0.003}}",
        "# evaluation:",
        "#   command: " + command,
        "#   # {files}: the folder of downloaded files; {metrics}: the JSON file of metric -> value it writes",
        _commented("#   accelerator: cpu", "cpu or gpu"),
        "#   timeout_s: 3600",
        "",
        _commented("release: {visibility: public}", "or private: only you can see it"),
        "# ethics: {statement: \"...\", detector: namespace/detector-model}",
        "",
    ]
    return "\n".join(lines)


# --- regctl init --from-hf ---------------------------------------------------------------------------------------


def write_hub_scaffold(folder: Path, repository: str, name: str | None = None, force: bool = False,
                       whoami=None) -> dict:
    """Write ``folder/regctl.yaml`` for a model on the Hugging Face Hub: its files pinned at the commit the revision
    resolves to (``hf://ORG/NAME@<commit>/<path>`` with the size and SHA-256 the Hub publishes), the model card's
    license, datasets, base model and paper links, its ``model-index`` results as claims (tolerance to set), every
    checklist item unanswered, and an evaluation section to fill in. Files already in the folder are listed too."""
    from regctl import hub

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is not a folder", code="NOT_A_FOLDER")
    target = folder / PROJECT_FILE
    if (target.exists() or target.is_symlink()) and not force:
        raise UsageError(f"{target} already exists; edit it, or pass --force to replace it", code="PROJECT_EXISTS")
    described = hub.describe_repo(repository)
    if name is None:
        name = f"{default_namespace(whoami)}/{slug(described.repo.split('/')[1], 100) or 'artifact'}"
    hub.validate_artifact_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    scan = scan_folder(folder)
    hub_paths = {f["path"] for f in described.files}
    local = [path for path in scan.files if path not in hub_paths]
    text = render_hub(described, name, local)
    temp = target.with_name(f".{PROJECT_FILE}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, target)
    card = described.card
    return {"path": str(target), "name": name, "version": DEFAULT_VERSION, "repository": described.repo,
            "revision": described.revision, "commit": described.commit,
            "files": [{key: f[key] for key in ("path", "size", "sha256", "source")} for f in described.files],
            "local_files": local, "license": card.get("license"), "datasets": card.get("datasets", []),
            "base_model": card.get("base_model", []), "papers": card.get("papers", []),
            "claims": card.get("claims", []), "checklist_items": len(ITEMS)}


def _flow(mapping: dict) -> str:
    return "{" + ", ".join(f"{key}: {_quote(value) if isinstance(value, str) else json.dumps(value)}"
                           for key, value in mapping.items()) + "}"


def render_hub(described, name: str, local: list[str]) -> str:
    card = described.card
    title = _one_line(card.get("model_name") or described.repo, 300) or name.split("/")[1]
    lines = [
        f"# regctl.yaml for {name}: {described.repo} on the Hugging Face Hub, pinned at commit {described.commit}",
        f"# ({described.revision}). Written by 'regctl init --from-hf'; edit it, then run 'regctl check'. The Hub",
        "# files are referenced, not copied: 'regctl push' checks them against the Hub and sends no bytes of them",
        "# ('regctl push --mirror' copies them into the registry, which the 'available' badge needs).",
        _commented(f"name: {_quote(name)}", "namespace/name on the registry"),
        _commented(f"version: {DEFAULT_VERSION}", "semantic version; a published version never changes"),
        f"title: {_quote(title)}",
    ]
    if card.get("license"):
        lines.append(_commented(f"license: {_quote(str(card['license']))}", "from the model card"))
    else:
        lines.append(_commented("license: unknown", "an SPDX identifier, e.g. apache-2.0, mit, cc-by-4.0"))
    papers = card.get("papers") or []
    if papers:
        lines.append(f"# paper: {{title: \"...\", url: {_quote(papers[0])}, venue: neurips-2026}}"
                     + (f"   # the model card also links {', '.join(papers[1:4])}" if len(papers) > 1 else ""))
    else:
        lines.append("# paper: {title: \"...\", url: \"https://arxiv.org/abs/...\", venue: neurips-2026}")
    for label, values in (("datasets", card.get("datasets")), ("base model", card.get("base_model"))):
        if values:
            lines.append(f"# {label} (from the model card): {', '.join(values)}")
    lines += ["", "# The files of the version: each Hub file with its pinned source and the size and SHA-256 the Hub",
              "# publishes (its LFS oid, or the hash of the file for small files); globs for files in this folder.",
              "files:"]
    for f in described.files:
        entry = {"path": f["path"], "source": f["source"], "size": f["size"], "sha256": f["sha256"]}
        lines.append(f"  - {_flow(entry)}")
    for path in local:
        lines.append(f"  - {_quote(glob.escape(path))}")
    lines += [
        "",
        "training:",
        _commented("  # config: configs/train.yaml", "the training configuration, one of the files"),
        "  # code: {repo: \"https://github.com/...\", commit: 3f2c1ab}",
        _commented("  # compute: {hardware: \"8x A100 80GB\", hours: 190}", "any accelerator: \"TPU v4-32\", \"CPU\""),
        "",
        "# The ML Reproducibility Checklist (Pineau, v2.0). Answer each item: answer (yes, no or n/a), justification",
        "# (a sentence or two) and, optionally, evidence (a file of this version or a claimed metric). Items left",
        "# empty are unanswered: the version is published as a draft and shows how many items are answered.",
        "checklist:",
    ]
    for item, question in ITEMS.items():
        lines += [f"  # {item}. {question}", f"  {item}:", "    answer:", "    justification:", "    evidence:"]
    claims = card.get("claims") or []
    lines += ["", "# What the version claims. The model card's model-index results are listed below: set the tolerance",
              "# of each (abs, rel, min or max; written as exact until you do)."]
    if claims:
        lines.append("claims:")
        for claim in claims:
            entry = {"metric": claim["metric"], "value": claim["value"], "dataset": claim["dataset"]}
            lines.append(_commented(f"  - {_flow(entry)[:-1]}, tolerance: {{abs: 0.0}}}}", "set the tolerance"))
    else:
        lines += ["# claims:", "#   - {metric: accuracy, value: 0.953, dataset: cifar10/test, tolerance: {abs: 0.003}}"]
    lines += [
        "",
        "# The command that computes the metrics from the files. Without it the claims are published as not",
        "# verifiable yet.",
        "# evaluation:",
        "#   command: python {files}/eval.py --out {metrics}",
        "#   # {files}: the folder of downloaded files; {metrics}: the JSON file of metric -> value it writes",
        _commented("#   accelerator: cpu", "cpu or gpu"),
        "#   timeout_s: 3600",
        "",
        _commented("release: {visibility: public}", "or private: only you can see it"),
        "",
    ]
    return "\n".join(lines)
