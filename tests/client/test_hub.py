"""regctl's Hub pieces that need no Hub: checked copies, model-card results as claims, the model-index export, the
draft regctl.yaml, and what a project with Hub files puts in its manifest."""

import hashlib
import os
from pathlib import Path

import pytest
import yaml
from huggingface_hub import EvalResult

from regctl import hub
from regctl.project import load_project
from regctl.scaffold import render_hub
from reproreg_schemas.manifest import AuthorFileSchema, canonical_manifest

COMMIT = "6ab077b9c61c2f1f23e349b4e800b70cf81a14e8"
SOURCE = f"hf://acme/tiny@{COMMIT}/model.safetensors"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_checked_copy_is_put_in_place_only_when_it_matches(tmp_path):
    source = tmp_path / "cache" / "blob"
    source.parent.mkdir()
    source.write_bytes(b"weights" * 100000)
    target = tmp_path / "out" / "model.safetensors"
    assert hub.place_checked(source, target, digest(source.read_bytes())) is None
    assert target.read_bytes() == source.read_bytes()
    os.chmod(target, 0o644)
    target.write_bytes(b"edited")  # a private copy: the cache keeps its bytes
    assert source.read_bytes().startswith(b"weights")

    other = tmp_path / "out" / "other.safetensors"
    assert hub.place_checked(source, other, "sha256:" + "0" * 64) == digest(source.read_bytes())
    assert not other.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.safetensors"]  # no temporary left


def test_model_index_results_become_claims_with_dataset_and_split():
    result = EvalResult(task_type="text-classification", dataset_type="glue", dataset_name="GLUE SST-2",
                        dataset_config="sst2", dataset_split="validation", metric_type="accuracy", metric_value=0.91)
    assert hub.claim_of(result) == {"metric": "accuracy", "value": 0.91, "dataset": "glue/sst2/validation",
                                    "task": "text-classification", "dataset_name": "GLUE SST-2"}
    text = EvalResult(task_type="t", dataset_type="d", dataset_name="d", metric_type="m", metric_value="n/a")
    assert hub.claim_of(text) is None  # not a number: nothing to claim


def test_read_card_takes_license_datasets_base_model_papers_and_results(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("""---
license: apache-2.0
datasets: [s2orc, ms_marco]
base_model: nreimers/MiniLM-L6-H384-uncased
model-index:
- name: mini
  results:
  - task: {type: sentence-similarity}
    dataset: {type: mteb/stsbenchmark-sts, name: MTEB STSBenchmark, split: test}
    metrics:
    - {type: cos_sim_spearman, value: 82.03}
---
See https://arxiv.org/abs/1908.10084 and https://arxiv.org/abs/1908.10084.
""")
    read = hub.read_card(card)
    assert read["license"] == "apache-2.0" and read["datasets"] == ["s2orc", "ms_marco"]
    assert read["base_model"] == ["nreimers/MiniLM-L6-H384-uncased"]
    assert read["papers"] == ["https://arxiv.org/abs/1908.10084"]
    assert read["claims"] == [{"metric": "cos_sim_spearman", "value": 82.03, "dataset": "mteb/stsbenchmark-sts/test",
                               "task": "sentence-similarity", "dataset_name": "MTEB STSBenchmark"}]


def test_export_gives_measured_values_with_a_link_to_the_version_page():
    claims = [{"metric": "accuracy", "dataset": "glue/validation", "value": 0.91, "measured": 0.905,
               "verdict": "held"},
              {"metric": "f1", "dataset": "glue", "value": 0.88, "measured": None, "verdict": "not verified"}]
    index = hub.model_index({"name": "alice/mini"}, claims, "https://registry.example/alice/mini/1.0.0")
    assert index[0]["name"] == "mini"
    results = index[0]["results"]
    metrics = [metric for result in results for metric in result["metrics"]]
    assert {(m["type"], m["value"]) for m in metrics} == {("accuracy", 0.905), ("f1", 0.88)}
    assert all(r["source"]["url"] == "https://registry.example/alice/mini/1.0.0" for r in results)
    assert {(r["dataset"]["type"], r["dataset"].get("split")) for r in results} == {("glue", "validation"),
                                                                                     ("glue", None)}


def draft(tmp_path: Path, claims: list[dict]) -> Path:
    described = hub.HubRepo(repo="acme/tiny", revision="main", commit=COMMIT, files=[
        {"path": "model.safetensors", "size": 32, "sha256": digest(b"x" * 32), "lfs": True, "source": SOURCE},
        {"path": "config.json", "size": 2, "sha256": digest(b"{}"), "lfs": False,
         "source": f"hf://acme/tiny@{COMMIT}/config.json"}],
        card={"license": "mit", "datasets": ["synthetic"], "base_model": [], "papers": [], "model_name": "tiny",
              "claims": claims})
    (tmp_path / "regctl.yaml").write_text(render_hub(described, "alice/tiny", ["eval.py"]))
    (tmp_path / "eval.py").write_text("print('eval')\n")
    return tmp_path


def test_the_draft_lists_the_hub_files_pinned_and_the_cards_claims_and_is_valid(tmp_path):
    folder = draft(tmp_path, [{"metric": "params", "value": 8.0, "dataset": "header/test"}])
    document = yaml.safe_load((folder / "regctl.yaml").read_text())
    loaded = AuthorFileSchema().load(document)
    assert loaded["files"][0] == {"path": "model.safetensors", "source": SOURCE, "size": 32,
                                  "sha256": digest(b"x" * 32)}
    assert loaded["files"][-1] == "eval.py"
    assert loaded["claims"][0]["tolerance"] == {"abs": 0.0}
    assert loaded["license"] == "mit" and "evaluation" not in document

    project = load_project(folder)
    assert [f.path for f in project.files] == ["eval.py"]
    assert [f.path for f in project.hub_files] == ["model.safetensors", "config.json"]
    manifest = project.manifest({"eval.py": digest(b"print('eval')\n")})
    entries = {entry["path"]: entry for entry in manifest["files"]}
    assert entries["model.safetensors"]["source"] == SOURCE and "source" not in entries["eval.py"]
    assert canonical_manifest(manifest) == manifest


def test_a_draft_without_results_has_no_claims(tmp_path):
    document = yaml.safe_load((draft(tmp_path, []) / "regctl.yaml").read_text())
    assert "claims" not in document


@pytest.mark.parametrize("text", ["acme", "acme/tiny/extra", "/tiny", "acme/ti ny"])
def test_a_repository_that_is_not_org_name_is_refused(text):
    from regctl.errors import UsageError

    with pytest.raises(UsageError):
        hub.parse_repo_reference(text)
