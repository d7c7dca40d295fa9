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
    assert "regctl.yaml" in load_problems(tmp_path)
    (tmp_path / "regctl.yaml").write_text("- just\n- a list\n")
    assert "(file)" in load_problems(tmp_path)
    (tmp_path / "regctl.yaml").write_text("name: [\n")
    assert "regctl.yaml" in load_problems(tmp_path)
