"""regctl init: the regctl.yaml it writes is a valid draft as written, and complete once the answers are filled in."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from regctl.errors import ConnectionFailed, UsageError
from regctl.project import load_project
from regctl.scaffold import MAX_LISTED_FILES, scan_folder, write_scaffold
from reproreg_schemas.checklist import ITEMS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def answer_every_item(path: Path, answers: dict[str, str] | None = None, default: str = "yes") -> None:
    """Fill in the checklist of a regctl.yaml written by regctl init, as its author would in an editor: after each
    empty ``answer:`` and ``justification:``, type the answer and a sentence."""
    answers = answers or {}

    def fill(match: re.Match) -> str:
        item = match.group(1)
        return (f"  {item}:\n    answer: {answers.get(item, default)}\n"
                f"    justification: See the model card for {item}.\n")

    text, count = re.subn(r"(?m)^  ([A-Z]{2}\d):\n    answer:\n    justification:\n", fill, path.read_text())
    assert count == len(ITEMS), "regctl init no longer writes the checklist the way an author fills it in"
    path.write_text(text)


def copy_without_project_file(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("regctl.yaml", "__pycache__"))
    return target


@pytest.mark.parametrize("example", ["hello", "digits-logreg", "iris-overclaimed"])
def test_init_on_each_example_writes_a_draft_that_loads_as_written(tmp_path, example):
    folder = copy_without_project_file(EXAMPLES / example, tmp_path / example)
    result = write_scaffold(folder, name=f"alice/{example}")
    project = load_project(folder)
    expected = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                      if p.is_file() and p.name != "regctl.yaml")
    assert [f.path for f in project.files] == expected == result["files"]
    assert project.name == f"alice/{example}" and project.version == "1.0.0"
    assert result["weights"] == ["weights/model.safetensors"] and result["dependencies"] == ["requirements.txt"]
    assert project.author["training"]["config"] == "configs/train.yaml"  # a config named for training, and valid
    summary = project.checklist()
    assert (summary["answered"], summary["state"]) == (0, "incomplete")
    assert project.claims == [] and project.evaluation is None


def test_every_checklist_item_is_listed_with_its_question(tmp_path):
    folder = copy_without_project_file(EXAMPLES / "hello", tmp_path / "hello")
    write_scaffold(folder, name="alice/hello")
    text = (folder / "regctl.yaml").read_text()
    for item, question in ITEMS.items():
        assert f"  # {item}. {question}" in text
        assert f"\n  {item}:\n    answer:\n    justification:\n    evidence:\n" in text
    assert "# evaluation:" in text and "#   command: python {files}/eval.py --out {metrics}" in text
    assert "# claims:" in text


def test_answering_every_item_makes_the_checklist_complete(tmp_path):
    folder = copy_without_project_file(EXAMPLES / "hello", tmp_path / "hello")
    write_scaffold(folder, name="alice/hello")
    answer_every_item(folder / "regctl.yaml", {"CO3": "n/a", "TC1": "n/a", "TC2": "n/a"})
    summary = load_project(folder).checklist()
    assert (summary["answered"], summary["state"], summary["warnings"]) == (21, "complete", [])
    text = (folder / "regctl.yaml").read_text().replace("CO3:\n    answer: n/a", "CO3:\n    answer: yes")
    (folder / "regctl.yaml").write_text(text)
    summary = load_project(folder).checklist()  # yes to CO3, but there is no evaluation command
    assert summary["state"] == "warnings" and [w["item"] for w in summary["warnings"]] == ["CO3"]


def test_an_existing_regctl_yaml_is_kept_unless_forced(tmp_path):
    folder = copy_without_project_file(EXAMPLES / "hello", tmp_path / "hello")
    (folder / "regctl.yaml").write_text("name: alice/mine\n")
    with pytest.raises(UsageError) as error:
        write_scaffold(folder, name="alice/hello")
    assert error.value.code == "PROJECT_EXISTS" and "--force" in error.value.message
    assert (folder / "regctl.yaml").read_text() == "name: alice/mine\n"
    write_scaffold(folder, name="alice/hello", force=True)
    assert load_project(folder).name == "alice/hello"
    assert "regctl.yaml" not in [f.path for f in load_project(folder).files]


def test_hidden_files_and_secrets_are_left_out_and_said_so(tmp_path):
    folder = tmp_path / "model"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref\n")
    (folder / ".env").write_text("TOKEN=x\n")
    (folder / "id_rsa").write_text("key\n")
    (folder / "server.pem").write_text("cert\n")
    (folder / "model.gguf").write_bytes(b"GGUF")
    (folder / "odd [1] name*.txt").write_text("globs must not read this as a pattern\n")
    (folder / "dash-start.json").write_text("{}\n")
    result = write_scaffold(folder, name="alice/model")
    assert result["left_out"] == {"hidden": [".git/", ".env"], "secrets": ["id_rsa", "server.pem"], "refused": []}
    assert result["weights"] == ["model.gguf"]
    text = (folder / "regctl.yaml").read_text()
    assert "# Left out: .git/, .env, id_rsa (looks like a secret), server.pem (looks like a secret)." in text
    project = load_project(folder)
    assert [f.path for f in project.files] == ["dash-start.json", "model.gguf", "odd [1] name*.txt"]
    assert project.file_warnings == []


def test_a_model_card_gives_the_title_and_license(tmp_path):
    folder = tmp_path / "Sentence Model_v2"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    (folder / "README.md").write_text("---\nlicense: apache-2.0\ntags: [a, b]\n---\n\n# all-MiniLM-L6-v2\n\ntext\n")
    write_scaffold(folder, whoami=lambda: {"name": "alice", "namespaces": ["alice"]})
    author = yaml.safe_load((folder / "regctl.yaml").read_text())
    assert (author["name"], author["title"], author["license"]) == ("alice/sentence-model-v2", "all-MiniLM-L6-v2",
                                                                     "apache-2.0")


def test_without_a_registry_the_namespace_is_the_login_name(tmp_path, monkeypatch):
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "net.pt").write_bytes(b"\0")

    def unreachable():
        raise ConnectionFailed("cannot reach the registry")

    monkeypatch.setattr("getpass.getuser", lambda: "Carol.Smith")
    write_scaffold(folder, whoami=unreachable)
    author = yaml.safe_load((folder / "regctl.yaml").read_text())
    assert (author["name"], author["title"], author["license"]) == ("carol-smith/net", "net", "unknown")
    load_project(folder)


@pytest.mark.parametrize("name", ["Alice/Model", "alice", "alice/-x"])
def test_an_invalid_name_is_a_usage_error(tmp_path, name):
    (tmp_path / "m.bin").write_bytes(b"\0")
    with pytest.raises(UsageError) as error:
        write_scaffold(tmp_path, name=name)
    assert error.value.code == "INVALID_NAME"
    assert not (tmp_path / "regctl.yaml").exists()


def test_a_folder_with_nothing_to_publish_or_no_folder_is_refused(tmp_path):
    (tmp_path / ".env").write_text("x\n")
    with pytest.raises(UsageError) as error:
        write_scaffold(tmp_path, name="alice/empty")
    assert error.value.code == "NO_FILES"
    with pytest.raises(UsageError) as error:
        write_scaffold(tmp_path / "missing", name="alice/empty")
    assert error.value.code == "NOT_A_FOLDER"


def test_many_files_are_listed_by_their_top_level_entries(tmp_path):
    folder = tmp_path / "shards"
    for index in range(MAX_LISTED_FILES + 1):
        path = folder / "data" / f"shard-{index:04}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0")
    (folder / "model.safetensors").write_bytes(b"\0")
    (folder / "keys" / "deploy.pem").parent.mkdir()
    (folder / "keys" / "deploy.pem").write_text("secret\n")
    (folder / "keys" / "README.md").write_text("how the keys were made\n")
    result = write_scaffold(folder, name="alice/shards")
    assert result["listed"] == ["data", "keys/README.md", "model.safetensors"]
    project = load_project(folder)
    assert len(project.files) == MAX_LISTED_FILES + 3 and project.file_warnings == []


def test_the_scan_recognises_weights_dependencies_and_configs(tmp_path):
    for name in ("a.safetensors", "b.bin", "c.pt", "d.pth", "e.ckpt", "f.onnx", "g.gguf", "h.h5", "i.msgpack",
                 "j.npz", "k.joblib", "l.pkl", "requirements-dev.txt", "pyproject.toml", "environment.yml",
                 "setup.py", "Pipfile", "config.json", "sub/train.yaml", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("a: 1\n")
    scan = scan_folder(tmp_path)
    assert scan.weights == ["a.safetensors", "b.bin", "c.pt", "d.pth", "e.ckpt", "f.onnx", "g.gguf", "h.h5",
                            "i.msgpack", "j.npz", "k.joblib", "l.pkl"]
    assert scan.dependencies == ["Pipfile", "environment.yml", "pyproject.toml", "requirements-dev.txt", "setup.py"]
    assert scan.configs == ["config.json", "sub/train.yaml"] and scan.training_config == "sub/train.yaml"
