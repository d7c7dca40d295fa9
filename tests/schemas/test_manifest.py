import pytest
from marshmallow import ValidationError

from reproreg_schemas.checklist import ITEMS, checklist_summary, mechanical_warnings
from reproreg_schemas.errors import flatten_messages
from reproreg_schemas.manifest import (
    AuthorFileSchema,
    canonical_manifest,
    compute_hours,
    compute_text,
    manifest_bytes,
    manifest_digest,
)
from reproreg_schemas.names import normalise_relative_path, semver_key
from tests.factories import author_file, full_checklist
from tests.registry.helpers import FILES, manifest_for


def problems(document, schema=AuthorFileSchema):
    with pytest.raises(ValidationError) as error:
        schema().load(document)
    return flatten_messages(error.value.messages)


def test_the_checklist_has_the_21_pineau_items():
    assert len(ITEMS) == 21
    assert list(ITEMS)[:3] == ["MA1", "MA2", "MA3"] and list(ITEMS)[-1] == "ER6"


def test_a_valid_author_file_loads_and_normalises_yaml_booleans():
    document = author_file()
    document["checklist"]["MA1"]["answer"] = True  # a bare `yes` in YAML 1.1
    document["checklist"]["TC2"]["answer"] = "N/A"
    loaded = AuthorFileSchema().load(document)
    assert loaded["checklist"]["MA1"]["answer"] == "yes" and loaded["checklist"]["TC2"]["answer"] == "n/a"


@pytest.mark.parametrize("change, path", [
    ({"version": "1.0"}, "version"),
    ({"name": "Alice/ResNet"}, "name"),
    ({"name": "alice"}, "name"),
    ({"files": []}, "files"),
    ({"license": ""}, "license"),
    ({"claims": [{"metric": "top1", "value": 0.9, "dataset": "d", "tolerance": {"abs": 0.1, "min": 0.5}}]},
     "claims[0].tolerance"),
    ({"claims": [{"metric": "top1", "value": 0.9, "dataset": "d", "tolerance": {}}]}, "claims[0].tolerance"),
    ({"claims": [{"metric": "top1", "value": 0.9, "dataset": "d", "tolerance": {"abs": -1}}]},
     "claims[0].tolerance.abs"),
    ({"claims": [{"metric": "top1", "value": 0.9, "dataset": "d", "tolerance": {"abs": 0.1}, "std": 0.1}]},
     "claims[0].n_runs"),
    ({"claims": [{"metric": "top1", "value": "high", "dataset": "d", "tolerance": {"abs": 0.1}}]},
     "claims[0].value"),
    ({"evaluation": {"command": "python eval.py {weights}"}}, "evaluation.command"),
    ({"evaluation": {"command": "python eval.py {files} {metrics}", "accelerator": "tpu"}}, "evaluation.accelerator"),
    ({"evaluation": {"command": "python eval.py {files} {metrics}", "timeout_s": 0}}, "evaluation.timeout_s"),
    ({"release": {"visibility": "everyone"}}, "release.visibility"),
    ({"training": {"code": {"repo": "https://x.org/r", "commit": "not-a-sha"}}}, "training.code.commit"),
    ({"paper": {"title": "T", "venue": "NeurIPS 2026"}}, "paper.venue"),
    ({"surprise": 1}, "surprise"),
])
def test_each_invalid_field_is_reported_by_its_path(change, path):
    assert path in problems(author_file(**change))


def test_unknown_items_and_invalid_answers_are_listed():
    checklist = full_checklist()
    checklist["XX9"] = {"answer": "yes", "justification": "?"}
    checklist["MA2"] = {"answer": "maybe", "justification": ""}
    checklist["MA3"] = {"answer": "yes"}
    checklist["TC1"] = {"justification": "an answer was forgotten"}
    checklist["TC2"] = "yes"
    checklist["DS1"] = {"answer": "yes", "justification": "x", "source": "?"}
    found = problems(author_file(checklist=checklist))
    assert {"checklist.XX9", "checklist.MA2.answer", "checklist.MA2.justification", "checklist.MA3.justification",
            "checklist.TC1.answer", "checklist.TC2", "checklist.DS1.source"} <= set(found)
    assert found["checklist.MA3.justification"] == ["an answer needs a justification (a sentence or two)"]
    assert found["checklist.TC1.answer"][0].startswith("give an answer: yes, no or n/a")
    assert found["checklist.TC2"] == ["must be a mapping {answer, justification, evidence}"]
    assert found["checklist.DS1.source"] == ["unknown field; an answer has answer, justification and evidence"]


def test_a_partly_answered_checklist_is_a_draft_holding_the_answered_items_only():
    checklist = full_checklist()
    del checklist["DS4"]  # absent
    checklist["ER1"] = None  # `ER1:` left empty
    checklist["ER2"] = {"answer": None, "justification": None, "evidence": None}  # as regctl init writes it
    checklist["ER3"] = {"answer": "", "justification": "  "}
    loaded = AuthorFileSchema().load(author_file(checklist=checklist))
    assert list(loaded["checklist"]) == [item for item in ITEMS if item not in ("DS4", "ER1", "ER2", "ER3")]
    summary = checklist_summary(loaded["checklist"], [])
    assert (summary["answered"], summary["items"], summary["state"]) == (17, 21, "incomplete")
    assert summary["unanswered"] == ["DS4", "ER1", "ER2", "ER3"]


@pytest.mark.parametrize("checklist", ["absent", None, {}], ids=["absent", "empty", "no-items"])
def test_a_version_may_have_no_answers_no_claims_and_no_evaluation(checklist):
    document = author_file()
    for key in ("claims", "evaluation", "training", "checklist"):
        document.pop(key)
    if checklist != "absent":
        document["checklist"] = checklist
    loaded = AuthorFileSchema().load(document)
    assert loaded["checklist"] == {} and loaded["claims"] == [] and loaded["evaluation"] is None
    manifest = manifest_for(FILES, claims=[], evaluation=None)
    manifest.pop("checklist")
    if checklist != "absent":
        manifest["checklist"] = checklist
    manifest = canonical_manifest(manifest)
    assert manifest["checklist"] == {} and manifest["claims"] == []
    assert checklist_summary(manifest["checklist"], [])["answered"] == 0


def test_the_checklist_state_needs_every_item_and_no_contradiction():
    assert checklist_summary(ITEMS, [])["state"] == "complete"
    assert checklist_summary(ITEMS, [{"item": "CO1", "message": "..."}])["state"] == "warnings"
    assert checklist_summary(list(ITEMS)[1:], [])["state"] == "incomplete"


def test_repeated_claims_are_refused():
    claim = {"metric": "top1", "value": 0.9, "dataset": "d", "tolerance": {"abs": 0.1}}
    assert "claims[1]" in problems(author_file(claims=[claim, claim]))


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a\\b", "a\x00b", "", ".", "a/..//"])
def test_paths_that_leave_the_folder_are_refused(path):
    with pytest.raises(ValidationError):
        normalise_relative_path(path)


def test_paths_are_normalised():
    assert normalise_relative_path("./weights//model.bin") == "weights/model.bin"


def test_the_digest_is_canonical_whatever_the_key_order_or_file_order():
    manifest = canonical_manifest(manifest_for(FILES))
    shuffled = manifest_for(FILES)
    shuffled["files"].reverse()
    shuffled = dict(reversed(list(shuffled.items())))
    assert manifest_digest(canonical_manifest(shuffled)) == manifest_digest(manifest)
    assert manifest_bytes(manifest).startswith(b'{"checklist":')
    changed = manifest_for({**FILES, "eval.py": b"other"})
    assert manifest_digest(canonical_manifest(changed)) != manifest_digest(manifest)


def test_manifest_references_must_exist():
    manifest = manifest_for(FILES)
    manifest["training"]["config"] = "configs/missing.yaml"
    manifest["checklist"]["CO3"]["evidence"] = "nowhere.py"
    manifest["files"].append(dict(manifest["files"][0]))
    with pytest.raises(ValidationError) as error:
        canonical_manifest(manifest)
    found = flatten_messages(error.value.messages)
    assert {"training.config", "checklist.CO3.evidence", "files[4].path"} <= set(found)


def test_evidence_may_name_a_claim():
    manifest = manifest_for(FILES)
    manifest["checklist"]["ER4"]["evidence"] = "loss"
    assert canonical_manifest(manifest)["checklist"]["ER4"]["evidence"] == "loss"


def test_mechanical_checks_flag_yes_answers_the_files_contradict():
    checklist = full_checklist()
    assert mechanical_warnings(checklist, ["weights/a.safetensors", "eval.py", "requirements.txt"],
                               "python eval.py {files} {metrics}") == []
    warned = mechanical_warnings(checklist, ["notes.md"], "python {files}/missing.py {metrics}")
    assert [w["item"] for w in warned] == ["CO1", "CO3", "CO4"]
    assert mechanical_warnings(full_checklist("no"), ["notes.md"], None) == []
    assert mechanical_warnings(checklist, ["src/eval.py", "pyproject.toml", "m.onnx"],
                               "python {files}/src/eval.py --out={metrics}") == []


@pytest.mark.parametrize("slug, valid", [("neurips-2026", True), ("a", True), ("icml-" + "x" * 58, True),
                                         ("icml-" + "x" * 59, False), ("-icml", False), ("ICML", False),
                                         ("neurips-2026\n", False), ("", False)])
def test_a_venue_is_a_short_slug(slug, valid):
    document = author_file(paper={"title": "T", "venue": slug})
    if valid:
        assert AuthorFileSchema().load(document)["paper"]["venue"] == slug
    else:
        assert "paper.venue" in problems(document)


def test_semver_ordering_follows_precedence():
    versions = ["1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "1.10.0", "1.2.0", "0.9.9", "1.0.0-alpha.1"]
    assert sorted(versions, key=semver_key) == ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-rc.1", "1.0.0",
                                                "1.2.0", "1.10.0"]


#: manifests as they were written before compute took any accelerator, with the digests they were published under:
#: they must keep them (a version's digest never changes)
OLD_COMPUTE = {
    "gpu_hours": ({"hardware": "8x V100 32GB", "gpu_hours": 190},
                  "sha256:158238e9862b042780ab5be6ec31e3ac2b9dcf2ea95b49b2ea78f9502ba8d89f"),
    "hardware only": ({"hardware": "1x A100"},
                      "sha256:5677fb6a79bd411addc28d9d936df8d6e67ac4019a5aa5a1b0fecabb963b537a"),
}


def pinned_manifest(compute: dict) -> dict:
    """A manifest written out in full here (not from the factories), so that its digest can be pinned."""
    return {
        "manifest_version": 1, "name": "alice/resnet", "version": "1.0.0", "title": "ResNet", "license": "mit",
        "files": [{"path": "weights/model.safetensors", "size": 3, "sha256": "sha256:" + "a" * 64}],
        "training": {"compute": compute},
        "checklist": {item: {"answer": "yes", "justification": f"see {item}"} for item in ITEMS},
        "claims": [{"metric": "top1", "value": 0.953, "dataset": "cifar10/test", "tolerance": {"abs": 0.003}}],
        "evaluation": {"command": "python eval.py --weights {files}/weights --out {metrics}"},
    }


@pytest.mark.parametrize("case", OLD_COMPUTE)
def test_manifests_written_before_hours_keep_their_digest(case):
    compute, digest = OLD_COMPUTE[case]
    assert manifest_digest(canonical_manifest(pinned_manifest(compute))) == digest


@pytest.mark.parametrize("compute, hours, text", [
    ({"hardware": "8xA100", "hours": 12.5}, 12.5, "8xA100 · 12.5 hours"),
    ({"hardware": "TPU v4-32", "hours": 100}, 100, "TPU v4-32 · 100 hours"),
    ({"hardware": "CPU", "hours": 0.25}, 0.25, "CPU · 0.25 hours"),
    ({"hardware": "8x V100 32GB", "gpu_hours": 190}, 190, "8x V100 32GB · 190 GPU hours"),
    ({"hardware": "1x A100"}, None, "1x A100"),
])
def test_compute_names_any_hardware_and_its_hours(compute, hours, text):
    loaded = canonical_manifest(pinned_manifest(compute))["training"]["compute"]
    assert compute_hours(loaded) == hours
    assert compute_text(loaded) == text
    if "hours" in compute:
        assert "gpu_hours" not in loaded  # the older spelling is not added to new manifests


@pytest.mark.parametrize("compute, message", [
    ({"hardware": "TPU v4-32", "hours": 1, "gpu_hours": 1}, "not both"),
    ({"hardware": "TPU v4-32", "hours": -1}, None),
    ({"hours": 3}, "name the hardware"),
])
def test_compute_must_name_the_hardware_and_one_duration(compute, message):
    found = problems(author_file(training={"compute": compute}))
    keys = [key for key in found if key.startswith("training.compute")]
    assert keys
    if message:
        assert any(message in text for key in keys for text in found[key])


#: a manifest with every claim and evaluation field there was before claims named their hardware and evaluations
#: their GPU, and the digest it had then: absent, the new fields leave the canonical form as it was
BEFORE_HARDWARE = "sha256:65605ef5f00f1908e8f9aa1a6a2b5031547e78096940c28d0dd175fdcecc3fc5"


def manifest_before_hardware() -> dict:
    manifest = pinned_manifest({"hardware": "1x A100"})
    manifest["claims"] = [{"metric": "top1", "value": 0.953, "dataset": "cifar10/test", "tolerance": {"abs": 0.003},
                           "std": 0.002, "n_runs": 3}]
    manifest["evaluation"] = {"command": "python eval.py --weights {files}/weights --out {metrics} --seed {seed}",
                              "accelerator": "gpu", "timeout_s": 600, "memory_mb": 4096}
    return manifest


def test_manifests_written_before_claims_named_hardware_keep_their_digest():
    manifest = manifest_before_hardware()
    canonical = canonical_manifest(manifest)
    assert manifest_digest(canonical) == BEFORE_HARDWARE
    assert "hardware" not in canonical["claims"][0] and "gpu" not in canonical["evaluation"]
    manifest["claims"][0]["hardware"] = None  # written but left empty: the same manifest
    assert manifest_digest(canonical_manifest(manifest)) == BEFORE_HARDWARE


def test_hardware_and_the_gpu_needed_are_part_of_the_digest():
    manifest = manifest_before_hardware()
    manifest["claims"][0]["hardware"] = "A100-80GB"
    manifest["evaluation"]["gpu"] = {"min_memory_gb": 40, "model": "A100"}
    canonical = canonical_manifest(manifest)
    assert canonical["claims"][0]["hardware"] == "A100-80GB"
    assert canonical["evaluation"]["gpu"] == {"min_memory_gb": 40, "model": "A100"}
    assert manifest_digest(canonical) != BEFORE_HARDWARE
    del manifest["evaluation"]["gpu"]["model"]
    assert manifest_digest(canonical_manifest(manifest)) not in (BEFORE_HARDWARE, manifest_digest(canonical))


@pytest.mark.parametrize("evaluation, key, message", [
    ({"accelerator": "cpu", "gpu": {"min_memory_gb": 40}}, "evaluation.gpu", "needs accelerator: gpu"),
    ({"gpu": {"min_memory_gb": 40}}, "evaluation.gpu", "needs accelerator: gpu"),  # cpu unless said
    ({"accelerator": "gpu", "gpu": {}}, "evaluation.gpu", "min_memory_gb"),
    ({"accelerator": "gpu", "gpu": {"min_memory_gb": 0}}, "evaluation.gpu.min_memory_gb", None),
    ({"accelerator": "gpu", "gpu": {"min_memory_gb": "lots"}}, "evaluation.gpu.min_memory_gb", "must be a number"),
    ({"accelerator": "gpu", "gpu": {"min_memory_gb": 40, "vram": 40}}, "evaluation.gpu.vram", None),
])
def test_a_gpu_requirement_needs_a_gpu_evaluation_and_says_what_it_needs(evaluation, key, message):
    found = problems(author_file(evaluation={"command": "python eval.py {files} {metrics}", **evaluation}))
    assert key in found, found
    if message:
        assert any(message in text for text in found[key])


@pytest.mark.parametrize("gpu, text", [
    ({"min_memory_gb": 40, "model": "A100"}, "A100 with at least 40 GB"),
    ({"min_memory_gb": 40.0}, "at least 40 GB"),
    ({"min_memory_gb": 23.5}, "at least 23.5 GB"),
    ({"model": "H100"}, "H100"),
    (None, ""),
])
def test_a_gpu_requirement_reads_the_same_everywhere(gpu, text):
    from reproreg_schemas.evaluation import gpu_requirement_text

    assert gpu_requirement_text(gpu) == text
