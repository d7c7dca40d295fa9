"""Publishing versions whose files live on the Hugging Face Hub: accepted without their bytes, never a way to
claim bytes the registry does not hold, and linked to the bytes once they are mirrored."""

import pytest

from tests.registry.helpers import FILES, digest_of, manifest_for, upload

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

COMMIT = "6ab077b9c61c2f1f23e349b4e800b70cf81a14e8"
WEIGHTS = "weights/model.safetensors"
SOURCE = f"hf://acme/resnet@{COMMIT}/model.safetensors"


def hub_manifest(name: str = "alice/resnet", version: str = "1.0.0", source: str | None = SOURCE) -> dict:
    manifest = manifest_for(FILES, name=name, version=version)
    for entry in manifest["files"]:
        if entry["path"] == WEIGHTS and source:
            entry["source"] = source
    return manifest


def put(http, headers, manifest: dict):
    return http.put(f"/api/v1/artifacts/{manifest['name']}/versions/{manifest['version']}",
                    json={"manifest": manifest, "release": {"visibility": "public"}}, headers=headers)


def upload_all_but_the_weights(http, headers) -> None:
    for path, data in FILES.items():
        if path != WEIGHTS:
            upload(http, headers, data)


def test_a_hub_file_is_published_without_its_bytes_and_the_version_is_not_available(http, make_user):
    _, alice = make_user("alice")
    upload_all_but_the_weights(http, alice)
    published = put(http, alice, hub_manifest())
    assert published.status_code == 201, published.json
    weights = next(f for f in published.json["manifest"]["files"] if f["path"] == WEIGHTS)
    assert weights["source"] == SOURCE
    assert http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0/badges").json["available"] is False
    missing = http.get(f"/api/v1/artifacts/alice/resnet/blobs/{digest_of(FILES[WEIGHTS])}")
    assert missing.status_code == 404  # the registry never had the bytes
    page = http.get("/alice/resnet/1.0.0")
    assert page.status_code == 200 and b"on the Hub only" in page.data


def test_a_file_without_a_source_still_needs_its_bytes(http, make_user):
    _, alice = make_user("alice")
    upload_all_but_the_weights(http, alice)
    refused = put(http, alice, hub_manifest(source=None))
    assert refused.status_code == 409 and refused.json["error"]["code"] == "BLOB_UNKNOWN"


def test_referencing_a_digest_on_the_hub_gives_nobody_else_its_bytes(http, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    upload_all_but_the_weights(http, alice)
    assert put(http, alice, hub_manifest()).status_code == 201
    upload_all_but_the_weights(http, bob)
    claimed = put(http, bob, hub_manifest(name="bob/resnet", source=None))
    assert claimed.status_code == 409 and claimed.json["error"]["code"] == "BLOB_UNKNOWN"
    assert http.post("/api/v1/blobs/missing", json={"digests": [digest_of(FILES[WEIGHTS])]},
                     headers=bob).json["missing"] == [digest_of(FILES[WEIGHTS])]


def test_mirroring_later_links_the_bytes_without_changing_the_digest(http, make_user):
    _, alice = make_user("alice")
    upload_all_but_the_weights(http, alice)
    first = put(http, alice, hub_manifest())
    upload(http, alice, FILES[WEIGHTS])
    again = put(http, alice, hub_manifest())
    assert again.status_code == 200 and again.json["digest"] == first.json["digest"]
    assert http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0/badges").json["available"] is True
    fetched = http.get(f"/api/v1/artifacts/alice/resnet/blobs/{digest_of(FILES[WEIGHTS])}")
    assert fetched.status_code == 200 and fetched.data == FILES[WEIGHTS]
    assert b"mirrored in the registry" in http.get("/alice/resnet/1.0.0").data


def test_a_branch_reference_is_an_invalid_manifest(http, make_user):
    _, alice = make_user("alice")
    upload_all_but_the_weights(http, alice)
    refused = put(http, alice, hub_manifest(source=SOURCE.replace(COMMIT, "main")))
    assert refused.status_code == 422 and refused.json["error"]["code"] == "INVALID_MANIFEST"
    assert "which is not a commit" in str(refused.json["error"]["details"])
