"""Models on the Hugging Face Hub, registered where they live: regctl (a subprocess) against a registry process and
a stand-in Hub process (tests/hub_standin), through huggingface_hub with HF_ENDPOINT pointing at the stand-in."""

import hashlib
import json
import shutil
import struct
from pathlib import Path

import pytest
import requests
import yaml

from tests.factories import full_checklist
from tests.hub_standin import MINILM, HubStandin, commit_for
from tests.hub_standin.server import minilm_folder

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: evaluations run in bubblewrap where it is installed (CI), unconfined elsewhere: what they check is the files
SANDBOX = [] if shutil.which("bwrap") else ["--no-sandbox"]
#: the SHA-256 the Hub publishes for all-MiniLM-L6-v2's model.safetensors (its LFS oid)
MINILM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

#: counts the tensors and parameters in a safetensors file's header (no library needed)
EVAL_SCRIPT = """import json, struct, sys
files = sys.argv[sys.argv.index("--files") + 1]
out = sys.argv[sys.argv.index("--out") + 1]
with open(files + "/model.safetensors", "rb") as handle:
    header = json.loads(handle.read(struct.unpack("<Q", handle.read(8))[0]))
tensors = [value for key, value in header.items() if key != "__metadata__"]
params = 0
for tensor in tensors:
    count = 1
    for dim in tensor["shape"]:
        count *= dim
    params += count
json.dump({"tensors": len(tensors), "params": params}, open(out, "w"))
"""


def header_counts(path: Path) -> tuple[int, int]:
    with open(path, "rb") as handle:
        header = json.loads(handle.read(struct.unpack("<Q", handle.read(8))[0]))
    tensors = [value for key, value in header.items() if key != "__metadata__"]
    params = 0
    for tensor in tensors:
        count = 1
        for dim in tensor["shape"]:
            count *= dim
        params += count
    return len(tensors), params


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def hub(tmp_path):
    started: list[HubStandin] = []

    def start(repos: dict[str, Path] | None = None, alter: bool = False) -> HubStandin:
        standin = HubStandin(tmp_path / f"hub-{len(started)}.log", repos, alter).start()
        started.append(standin)
        return standin

    yield start
    for standin in started:
        standin.stop()


def on_hub(regctl, standin: HubStandin, hf_home: Path):
    regctl.env.update(standin.environment(hf_home))
    return regctl


def fill_in(folder: Path, name: str, claims: list[dict], venue: str | None = None, evaluation: bool = True) -> dict:
    """What the author does after init: an evaluation script and command, claims with tolerances, the checklist."""
    document = yaml.safe_load((folder / "regctl.yaml").read_text())
    (folder / "eval.py").write_text(EVAL_SCRIPT)
    document["files"].append("eval.py")
    document["claims"] = claims
    if evaluation:
        document["evaluation"] = {"command": "python {files}/eval.py --files {files} --out {metrics}",
                                  "accelerator": "cpu", "timeout_s": 120}
    document["checklist"] = full_checklist()
    if venue:
        document["paper"] = {"title": "Sentence embeddings", "venue": venue}
    (folder / "regctl.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return document


def minilm_claims() -> list[dict]:
    tensors, params = header_counts(minilm_folder() / "model.safetensors")
    return [{"metric": "tensors", "value": tensors, "dataset": "safetensors/header", "tolerance": {"abs": 0}},
            {"metric": "params", "value": params, "dataset": "safetensors/header", "tolerance": {"abs": 0}}]


def test_init_from_hf_pins_the_hubs_files_and_push_sends_no_weight_bytes(live, regctl_as, hub, tmp_path):
    standin = hub()
    alice = on_hub(regctl_as("alice"), standin, tmp_path / "hf-alice")
    folder = tmp_path / "minilm"

    init = alice("init", folder, "--from-hf", MINILM, "--name", "alice/minilm", "--json")
    assert init.code == 0, init.stderr
    draft = yaml.safe_load((folder / "regctl.yaml").read_text())
    weights = next(entry for entry in draft["files"] if isinstance(entry, dict)
                   and entry["path"] == "model.safetensors")
    assert weights["sha256"] == f"sha256:{MINILM_WEIGHTS_SHA256}"
    assert weights["size"] == (minilm_folder() / "model.safetensors").stat().st_size
    assert weights["source"] == f"hf://{MINILM}@{commit_for(MINILM)}/model.safetensors"
    small = next(entry for entry in draft["files"] if isinstance(entry, dict) and entry["path"] == "config.json")
    assert small["sha256"] == sha256_of(minilm_folder() / "config.json")  # not in LFS: downloaded and hashed
    assert sorted(draft["checklist"]) == sorted(full_checklist())
    assert all(answer == {"answer": None, "justification": None, "evidence": None}
               for answer in draft["checklist"].values())
    assert init.json()["license"] == "apache-2.0"
    assert standin.bytes_served("/lfs/") == 0  # the weights were pinned without being downloaded

    checked = alice("check", folder)
    assert checked.code == 0, checked.stderr  # the draft as written is valid

    fill_in(folder, "alice/minilm", minilm_claims())
    pushed = alice("push", folder, "--json")
    assert pushed.code == 0, pushed.stderr
    result = pushed.json()
    assert result["bytes_uploaded"] == len(EVAL_SCRIPT.encode())  # only the local file
    assert result["hub_files"] == len([e for e in draft["files"] if isinstance(e, dict)])
    assert standin.bytes_served("/lfs/") == 0

    shown = alice("show", "alice/minilm@1.0.0", "--json")
    assert shown.code == 0, shown.stderr
    files = {f["path"]: f for f in shown.json()["manifest"]["files"]}
    assert files["model.safetensors"]["source"] == weights["source"]
    assert "source" not in files["eval.py"]
    assert shown.json()["badges"]["available"] is False  # the weights are not in the registry's storage
    page = requests.get(f"{live.url}/alice/minilm/1.0.0", timeout=10)
    assert page.status_code == 200
    assert f"https://huggingface.co/{MINILM}/blob/{commit_for(MINILM)}/model.safetensors" in page.text
    assert "on the Hub only: not in the registry's storage" in page.text

    # a reader with their own Hub cache: pull and verify fetch the weights from the Hub and check them
    bob = on_hub(regctl_as("bob"), standin, tmp_path / "hf-bob")
    pulled = bob("pull", "alice/minilm@1.0.0", "-o", tmp_path / "pulled", "--json")
    assert pulled.code == 0, pulled.stderr
    assert sha256_of(tmp_path / "pulled" / "model.safetensors") == f"sha256:{MINILM_WEIGHTS_SHA256}"
    assert standin.bytes_served("/lfs/") == weights["size"]
    assert list((tmp_path / "hf-bob" / "hub").glob("models--sentence-transformers--all-MiniLM-L6-v2/blobs/*"))

    verified = bob("verify", "alice/minilm@1.0.0", "--yes", "--json", *SANDBOX)
    assert verified.code == 0, verified.stdout + verified.stderr
    assert standin.bytes_served("/lfs/") == weights["size"]  # from the Hub cache this time


def test_a_hub_serving_altered_bytes_makes_pull_and_verify_exit_2(live, regctl_as, hub, tmp_path):
    standin = hub()
    alice = on_hub(regctl_as("alice"), standin, tmp_path / "hf-alice")
    folder = tmp_path / "minilm"
    assert alice("init", folder, "--from-hf", MINILM, "--name", "alice/minilm").code == 0
    fill_in(folder, "alice/minilm", minilm_claims())
    assert alice("push", folder).code == 0

    standin.restart(alter=True)
    bob = on_hub(regctl_as("bob"), standin, tmp_path / "hf-bob")
    pulled = bob("pull", "alice/minilm@1.0.0", "-o", tmp_path / "pulled")
    assert pulled.code == 2, pulled.stderr
    assert "model.safetensors" in pulled.stderr and MINILM_WEIGHTS_SHA256 in pulled.stderr
    assert not (tmp_path / "pulled" / "model.safetensors").exists()

    verified = bob("verify", "alice/minilm@1.0.0", "--yes", *SANDBOX)
    assert verified.code == 2, verified.stdout + verified.stderr  # the altered copy in the Hub cache is refused too
    assert "evaluating" not in verified.stdout


def test_a_branch_instead_of_a_commit_is_refused(live, regctl_as, hub, tmp_path):
    standin = hub()
    alice = on_hub(regctl_as("alice"), standin, tmp_path / "hf-alice")
    folder = tmp_path / "minilm"
    assert alice("init", folder, "--from-hf", f"{MINILM}@main", "--name", "alice/minilm").code == 0
    text = (folder / "regctl.yaml").read_text().replace(f"@{commit_for(MINILM)}/", "@main/")
    (folder / "regctl.yaml").write_text(text)
    pushed = alice("push", folder)
    assert pushed.code == 4, pushed.stderr
    assert "'main', which is not a commit" in pushed.stderr


def test_a_wrong_digest_in_regctl_yaml_is_refused_before_publishing(live, regctl_as, hub, tmp_path):
    standin = hub()
    alice = on_hub(regctl_as("alice"), standin, tmp_path / "hf-alice")
    folder = tmp_path / "minilm"
    assert alice("init", folder, "--from-hf", MINILM, "--name", "alice/minilm").code == 0
    text = (folder / "regctl.yaml").read_text().replace(MINILM_WEIGHTS_SHA256, "0" * 64)
    (folder / "regctl.yaml").write_text(text)
    pushed = alice("push", folder)
    assert pushed.code == 2, pushed.stderr
    assert MINILM_WEIGHTS_SHA256 in pushed.stderr
    assert alice("show", "alice/minilm@1.0.0").code != 0


def test_mirror_copies_every_byte_into_the_registry_and_pull_works_with_the_hub_stopped(live, regctl_as, hub,
                                                                                        tmp_path):
    standin = hub()
    alice = on_hub(regctl_as("alice"), standin, tmp_path / "hf-alice")
    folder = tmp_path / "minilm"
    assert alice("init", folder, "--from-hf", MINILM, "--name", "alice/minilm").code == 0
    fill_in(folder, "alice/minilm", minilm_claims())
    size = (minilm_folder() / "model.safetensors").stat().st_size

    pushed = alice("push", folder, "--mirror", "--json")
    assert pushed.code == 0, pushed.stderr
    assert pushed.json()["bytes_uploaded"] >= size
    shown = alice("show", "alice/minilm@1.0.0", "--json").json()
    assert shown["badges"]["available"] is True
    assert shown["manifest"]["files"][0].get("source")  # still says where it lives on the Hub

    standin.stop()
    bob = on_hub(regctl_as("bob"), standin, tmp_path / "hf-bob")
    pulled = bob("pull", "alice/minilm@1.0.0", "-o", tmp_path / "pulled", "--json")
    assert pulled.code == 0, pulled.stderr
    assert sha256_of(tmp_path / "pulled" / "model.safetensors") == f"sha256:{MINILM_WEIGHTS_SHA256}"


def test_mirroring_a_version_published_by_reference_makes_it_available_without_changing_its_digest(
        live, regctl_as, hub, tmp_path):
    standin = hub()
    alice = on_hub(regctl_as("alice"), standin, tmp_path / "hf-alice")
    folder = tmp_path / "minilm"
    assert alice("init", folder, "--from-hf", MINILM, "--name", "alice/minilm").code == 0
    fill_in(folder, "alice/minilm", minilm_claims())
    first = alice("push", folder, "--json").json()
    assert alice("show", "alice/minilm@1.0.0", "--json").json()["badges"]["available"] is False

    mirrored = alice("push", folder, "--mirror", "--json")
    assert mirrored.code == 0, mirrored.stderr
    assert mirrored.json()["digest"] == first["digest"] and mirrored.json()["created"] is False
    assert alice("show", "alice/minilm@1.0.0", "--json").json()["badges"]["available"] is True
    page = requests.get(f"{live.url}/alice/minilm/1.0.0", timeout=10).text
    assert "mirrored in the registry" in page and "on the Hub only" not in page


def card_repo(folder: Path) -> Path:
    """A small model repository whose card claims numbers in its model-index."""
    folder.mkdir(parents=True)
    header = json.dumps({"w": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
                         "b": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(32))
    (folder / "README.md").write_text("""---
license: mit
datasets:
- synthetic/tiny
base_model: acme/base-tiny
model-index:
- name: tiny
  results:
  - task: {type: feature-extraction}
    dataset: {type: safetensors, name: Safetensors header, split: header}
    metrics:
    - {type: params, value: 8}
    - {type: tensors, value: 2}
---
# tiny

A tiny model. Paper: https://arxiv.org/abs/1908.10084
""")
    return folder


def test_a_model_card_with_results_becomes_claims_and_export_gives_them_back_measured(live, regctl_as, hub,
                                                                                     tmp_path):
    standin = hub({"acme/tiny": card_repo(tmp_path / "tiny-repo")})
    author = on_hub(regctl_as("author"), standin, tmp_path / "hf-author")
    reviewer, chair = on_hub(regctl_as("rev"), standin, tmp_path / "hf-rev"), regctl_as("chair")
    live.admin("venues", "create", "emb-2026", "--title", "Embeddings 2026", "--chair", "chair")
    assert chair("venue", "add", "emb-2026", "rev").code == 0

    folder = tmp_path / "tiny"
    init = author("init", folder, "--from-hf", "acme/tiny", "--name", "author/tiny", "--json")
    assert init.code == 0, init.stderr
    described = init.json()
    assert described["license"] == "mit" and described["datasets"] == ["synthetic/tiny"]
    assert described["base_model"] == ["acme/base-tiny"]
    assert described["papers"] == ["https://arxiv.org/abs/1908.10084"]
    draft = yaml.safe_load((folder / "regctl.yaml").read_text())
    assert [(c["metric"], c["value"], c["dataset"]) for c in draft["claims"]] == [
        ("params", 8, "safetensors/header"), ("tensors", 2, "safetensors/header")]

    document = yaml.safe_load((folder / "regctl.yaml").read_text())
    fill_in(folder, "author/tiny", document["claims"], venue="emb-2026")
    assert author("push", folder).code == 0
    assert reviewer("keys", "create").code == 0
    verified = reviewer("verify", "author/tiny@1.0.0", "--submit", "--yes", *SANDBOX)
    assert verified.code == 0, verified.stdout + verified.stderr

    exported = author("export", "author/tiny@1.0.0", "--model-card")
    assert exported.code == 0, exported.stderr
    index = yaml.safe_load(exported.stdout)["model-index"]
    metrics = {m["type"]: m for m in index[0]["results"][0]["metrics"]}
    assert metrics["params"]["value"] == 8 and metrics["tensors"]["value"] == 2
    assert "/author/tiny/1.0.0" in index[0]["results"][0]["source"]["url"]
    as_json = author("export", "author/tiny@1.0.0", "--model-card", "--json").json()
    assert [(c["metric"], c["measured"], c["verdict"]) for c in as_json["claims"]] == [
        ("params", 8, "held"), ("tensors", 2, "held")]


def test_claims_imported_without_an_evaluation_are_not_verifiable_yet(live, regctl_as, hub, tmp_path):
    standin = hub({"acme/tiny": card_repo(tmp_path / "tiny-repo")})
    author = on_hub(regctl_as("author"), standin, tmp_path / "hf-author")
    folder = tmp_path / "tiny"
    assert author("init", folder, "--from-hf", "acme/tiny", "--name", "author/tiny").code == 0
    pushed = author("push", folder)
    assert pushed.code == 0, pushed.stderr
    shown = author("show", "author/tiny@1.0.0")
    assert shown.code == 0, shown.stderr
    assert "not verifiable yet" in shown.stdout
    page = requests.get(f"{live.url}/author/tiny/1.0.0", timeout=10).text
    assert "not verifiable yet" in page
    exported = author("export", "author/tiny@1.0.0", "--model-card", "--json").json()
    assert [(c["metric"], c["measured"], c["verdict"]) for c in exported["claims"]] == [
        ("params", None, "not verifiable yet"), ("tensors", None, "not verifiable yet")]


def test_pull_honours_the_hub_cache_and_offline_mode(live, regctl_as, hub, tmp_path):
    standin = hub()
    alice = on_hub(regctl_as("alice"), standin, tmp_path / "hf-alice")
    folder = tmp_path / "minilm"
    assert alice("init", folder, "--from-hf", MINILM, "--name", "alice/minilm").code == 0
    assert alice("push", folder).code == 0
    bob = on_hub(regctl_as("bob"), standin, tmp_path / "hf-bob")
    assert bob("pull", "alice/minilm@1.0.0", "-o", tmp_path / "first").code == 0

    standin.stop()
    bob.env["HF_HUB_OFFLINE"] = "1"
    again = bob("pull", "alice/minilm@1.0.0", "-o", tmp_path / "second", "--json")
    assert again.code == 0, again.stderr  # from the Hub cache the other tools share
    assert again.json()["bytes_downloaded"] == 0
    assert sha256_of(tmp_path / "second" / "model.safetensors") == f"sha256:{MINILM_WEIGHTS_SHA256}"

    carol = on_hub(regctl_as("carol"), standin, tmp_path / "hf-carol")
    carol.env["HF_HUB_OFFLINE"] = "1"
    offline = carol("pull", "alice/minilm@1.0.0", "-o", tmp_path / "third")
    assert offline.code == 5, offline.stderr
    assert "not in the Hub cache" in offline.stderr
    assert not (tmp_path / "third" / "model.safetensors").exists()
