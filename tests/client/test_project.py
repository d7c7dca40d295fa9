import os

import pytest
import yaml

from regctl.errors import InvalidProjectError
from regctl.project import load_project
from tests.factories import author_file, make_project, write_author_file


def load_problems(folder):
    with pytest.raises(InvalidProjectError) as error:
        load_project(folder)
    return error.value.details["problems"]


def test_a_complete_folder_loads_with_its_files(tmp_path):
    project = load_project(make_project(tmp_path / "p"))
    assert [f.path for f in project.files] == ["configs/train.yaml", "eval.py", "requirements.txt",
                                               "weights/model.safetensors"]
    assert project.files[-1].media_type == "application/vnd.safetensors"


def test_the_checklist_may_live_in_its_own_file(tmp_path):
    folder = make_project(tmp_path / "p")
    document = author_file()
    (folder / "checklist.yaml").write_text(yaml.safe_dump(document.pop("checklist")))
    write_author_file(folder, {**document, "checklist": "checklist.yaml"})
    assert load_project(folder).author["checklist"]["ER6"]["answer"] == "yes"
    write_author_file(folder, {**document, "checklist": "../checklist.yaml"})
    assert "checklist" in load_problems(folder)


def test_a_folder_pattern_takes_every_file_below_it(tmp_path):
    folder = make_project(tmp_path / "p", files=["weights", "eval.py", "configs/train.yaml"])
    (folder / "weights" / "extra.bin").write_bytes(b"x")
    assert [f.path for f in load_project(folder).files] == ["configs/train.yaml", "eval.py", "weights/extra.bin",
                                                            "weights/model.safetensors"]


def test_a_symlink_pointing_outside_is_refused(tmp_path):
    (tmp_path / "secret.txt").write_text("outside")
    folder = make_project(tmp_path / "p", files=["weights/*", "eval.py", "configs/train.yaml", "leak.txt"])
    os.symlink(tmp_path / "secret.txt", folder / "leak.txt")
    found = load_problems(folder)
    assert any("outside the folder" in message for message in found["files[3]"])


def test_a_symlink_inside_the_folder_is_fine(tmp_path):
    folder = make_project(tmp_path / "p", files=["weights/*", "eval.py", "configs/train.yaml", "alias.py"])
    os.symlink("eval.py", folder / "alias.py")
    assert "alias.py" in [f.path for f in load_project(folder).files]


def test_missing_file_unmatched_glob_and_bad_training_config(tmp_path):
    folder = make_project(tmp_path / "p", files=["weights/*.pt", "eval.py", "configs/train.yaml"])
    (folder / "configs" / "train.yaml").write_text("lr: [unclosed\n")
    found = load_problems(folder)
    assert "matches no file" in found["files[0]"][0]
    assert "training.config" in found


def test_no_regctl_yaml_or_not_a_mapping(tmp_path):
    assert "'regctl init' writes one to fill in" in load_problems(tmp_path)["regctl.yaml"][0]
    (tmp_path / "regctl.yaml").write_text("- just\n- a list\n")
    assert "(file)" in load_problems(tmp_path)
    (tmp_path / "regctl.yaml").write_text("name: [\n")
    assert "regctl.yaml" in load_problems(tmp_path)


def add_hidden_things(folder):
    (folder / ".env").write_text("TOKEN=rrt_secret\n")
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "objects" / "pack").write_bytes(b"git")
    (folder / ".venv" / "lib").mkdir(parents=True)
    (folder / ".venv" / "lib" / "site.py").write_text("")
    (folder / "weights" / ".cache").mkdir()
    (folder / "weights" / ".cache" / "partial.safetensors").write_bytes(b"half")
    (folder / "weights" / ".DS_Store").write_bytes(b"\0")


def paths_of(folder):
    return [f.path for f in load_project(folder).files]


@pytest.mark.parametrize("files, expected", [
    (["*"], ["configs/train.yaml", "eval.py", "regctl.yaml", "requirements.txt", "weights/model.safetensors"]),
    (["weights", "eval.py"], ["eval.py", "weights/model.safetensors"]),
    (["weights/*", "eval.py"], ["eval.py", "weights/model.safetensors"]),
    (["**/*.safetensors", "**/*.py"], ["eval.py", "weights/model.safetensors"]),
])
def test_globs_and_folders_leave_hidden_files_and_folders_out(tmp_path, files, expected):
    folder = make_project(tmp_path / "p", files=files, training=None)
    add_hidden_things(folder)
    assert paths_of(folder) == expected


def test_the_whole_folder_is_a_dot_without_hidden_files(tmp_path):
    folder = make_project(tmp_path / "p", files=["."])
    add_hidden_things(folder)
    assert paths_of(folder) == ["configs/train.yaml", "eval.py", "regctl.yaml", "requirements.txt",
                                "weights/model.safetensors"]
    write_author_file(folder, author_file(files=["./"]))
    assert len(paths_of(folder)) == 5


def test_hidden_files_named_explicitly_are_selected(tmp_path):
    folder = make_project(tmp_path / "p", files=["weights/*", "eval.py", "configs/train.yaml", ".github/*",
                                                 "weights/.cache/*", ".env"])
    add_hidden_things(folder)
    (folder / ".github").mkdir()
    (folder / ".github" / "ci.yml").write_text("on: push\n")
    assert paths_of(folder) == [".env", ".github/ci.yml", "configs/train.yaml", "eval.py",
                                "weights/.cache/partial.safetensors", "weights/model.safetensors"]


def test_a_glob_that_matches_only_hidden_files_says_so(tmp_path):
    folder = make_project(tmp_path / "p", files=["weights/*", "eval.py", "configs/train.yaml", "*/objects/*"])
    add_hidden_things(folder)
    message = load_problems(folder)["files[3]"][0]
    assert "matches only hidden files or folders (.git/objects/pack)" in message and "name them" in message


@pytest.mark.parametrize("name", [".env", ".env.production", "server.pem", "tls.key", "id_rsa", "id_ed25519.pub",
                                  "credentials.json", "Credentials", "cert.p12"])
def test_files_that_look_like_secrets_are_selected_with_a_warning(tmp_path, name):
    folder = make_project(tmp_path / "p", files=["weights/*", "eval.py", "configs/train.yaml", name])
    (folder / name).write_text("secret\n")
    project = load_project(folder)
    assert name in [f.path for f in project.files]
    assert [w["path"] for w in project.file_warnings] == [name]
    assert "looks like a secret" in project.file_warnings[0]["message"]


def test_ordinary_files_give_no_warning(tmp_path):
    folder = make_project(tmp_path / "p", files=["weights/*", "eval.py", "configs/train.yaml", "keys.txt"])
    (folder / "keys.txt").write_text("a, b\n")
    assert load_project(folder).file_warnings == []


def test_a_project_says_how_far_its_checklist_is_answered(tmp_path):
    checklist = {item: answer for item, answer in author_file()["checklist"].items() if item not in ("TC2", "ER6")}
    folder = make_project(tmp_path / "p", checklist=checklist, claims=[])
    project = load_project(folder)
    summary = project.checklist()
    assert (summary["answered"], summary["items"], summary["state"]) == (19, 21, "incomplete")
    assert summary["unanswered"] == ["TC2", "ER6"]
    assert project.claims == []
    write_author_file(folder, author_file(files=["eval.py", "configs/train.yaml"]))
    summary = load_project(folder).checklist()  # a yes to CO1 and CO4 that the files contradict
    assert summary["state"] == "warnings" and [w["item"] for w in summary["warnings"]] == ["CO1", "CO4"]
