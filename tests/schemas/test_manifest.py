import pytest
from marshmallow import ValidationError

from reproreg_schemas.checklist import ITEMS, mechanical_warnings
from reproreg_schemas.errors import flatten_messages
from reproreg_schemas.manifest import AuthorFileSchema, canonical_manifest, manifest_bytes, manifest_digest
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


def test_every_missing_or_unknown_checklist_item_is_listed():
    checklist = full_checklist()
    del checklist["DS4"], checklist["ER1"]
    checklist["XX9"] = {"answer": "yes", "justification": "?"}
    checklist["MA2"] = {"answer": "maybe", "justification": ""}
    found = problems(author_file(checklist=checklist))
    assert {"checklist.DS4", "checklist.ER1", "checklist.XX9", "checklist.MA2.answer",
            "checklist.MA2.justification"} <= set(found)


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
