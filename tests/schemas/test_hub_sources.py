"""Files that live on the Hugging Face Hub in the author's file and the manifest."""

import pytest
from marshmallow import ValidationError

from reproreg_schemas.errors import flatten_messages
from reproreg_schemas.manifest import (
    AuthorFileSchema,
    ManifestSchema,
    canonical_manifest,
    manifest_digest,
    parse_hub_source,
)
from tests.factories import author_file
from tests.registry.helpers import FILES, manifest_for

COMMIT = "6ab077b9c61c2f1f23e349b4e800b70cf81a14e8"
SOURCE = f"hf://sentence-transformers/all-MiniLM-L6-v2@{COMMIT}/model.safetensors"
DIGEST = "sha256:53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def test_a_pinned_source_names_the_repository_the_commit_and_the_path():
    assert parse_hub_source(SOURCE) == ("sentence-transformers/all-MiniLM-L6-v2", COMMIT, "model.safetensors")
    assert parse_hub_source(f"hf://org/name@{COMMIT}/1_Pooling/config.json")[2] == "1_Pooling/config.json"


@pytest.mark.parametrize("source, reason", [
    (SOURCE.replace(COMMIT, "main"), "'main', which is not a commit"),
    (SOURCE.replace(COMMIT, "v1.0"), "'v1.0', which is not a commit"),
    (SOURCE.replace(COMMIT, COMMIT[:7]), "which is not a commit"),
    (SOURCE.replace(COMMIT, COMMIT.upper()), "which is not a commit"),
    ("hf://sentence-transformers/all-MiniLM-L6-v2/model.safetensors", "not a Hub source"),
    (f"https://huggingface.co/org/name@{COMMIT}/model.safetensors", "not a Hub source"),
    (f"hf://org/name@{COMMIT}/../etc/passwd", ".."),
])
def test_anything_but_a_full_commit_is_refused_with_the_reason(source, reason):
    with pytest.raises(ValidationError) as error:
        parse_hub_source(source)
    assert reason in " ".join(error.value.messages)


def test_a_manifest_entry_without_a_source_keeps_its_canonical_form_and_digest():
    manifest = manifest_for(FILES)
    canonical = canonical_manifest(manifest)
    assert all("source" not in entry for entry in canonical["files"])
    with_source = manifest_for(FILES)
    with_source["files"] = [{**entry, "source": SOURCE} if entry["path"] == "weights/model.safetensors" else entry
                            for entry in with_source["files"]]
    referenced = canonical_manifest(with_source)
    assert next(e for e in referenced["files"] if e["path"] == "weights/model.safetensors")["source"] == SOURCE
    assert manifest_digest(referenced) != manifest_digest(canonical)  # the digest covers the reference


def test_a_manifest_with_a_branch_reference_is_invalid():
    manifest = manifest_for(FILES)
    manifest["files"][0]["source"] = SOURCE.replace(COMMIT, "main")
    with pytest.raises(ValidationError) as error:
        ManifestSchema().load(manifest)
    assert "which is not a commit" in str(flatten_messages(error.value.messages))


def test_the_author_file_lists_globs_and_hub_files():
    document = author_file(files=["eval.py", {"path": "weights/model.safetensors", "source": SOURCE,
                                              "size": 90868376, "sha256": DIGEST}])
    loaded = AuthorFileSchema().load(document)
    assert loaded["files"][0] == "eval.py"
    assert loaded["files"][1] == {"path": "weights/model.safetensors", "source": SOURCE, "size": 90868376,
                                  "sha256": DIGEST}


@pytest.mark.parametrize("entry, field", [
    ({"path": "m.safetensors", "source": SOURCE, "size": 1}, "files.1.sha256"),
    ({"path": "m.safetensors", "source": SOURCE, "size": -1, "sha256": DIGEST}, "files.1.size"),
    ({"path": "m.safetensors", "source": SOURCE.replace(COMMIT, "main"), "size": 1, "sha256": DIGEST},
     "files.1.source"),
    (42, "files.1"),
])
def test_a_wrong_hub_file_entry_is_reported_by_field(entry, field):
    with pytest.raises(ValidationError) as error:
        AuthorFileSchema().load(author_file(files=["eval.py", entry]))
    flat = flatten_messages(error.value.messages)
    assert any(key.replace("[", ".").replace("]", "").startswith(field) for key in flat), flat
