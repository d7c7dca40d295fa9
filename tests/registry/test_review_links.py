"""Anonymous review links, server side: the anonymised document still pins every byte (file sizes and SHA-256 as
signed, whatever the names removed), the badge a holder sees names no one and is never cached, and each use is
logged once (a download fetched in ranges is one use)."""

import json

import pytest

from tests.registry.helpers import FILES, digest_of, publish

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _link(http, headers, name: str) -> tuple[dict, str]:
    made = http.post(f"/api/v1/artifacts/{name}/review-links", json={"version": "1.0.0"}, headers=headers)
    assert made.status_code == 201, made.json
    return made.json, made.json["secret"]


def _uses(http, headers, name: str) -> list[str]:
    return [use["what"] for use in http.get(f"/api/v1/artifacts/{name}/review-links", headers=headers)
            .json["links"][0]["uses"]]


def test_a_name_found_inside_a_digest_leaves_every_file_digest_and_size_as_signed(http, make_user):
    _, owner = make_user("a")  # one letter: it occurs in nearly every hex digest
    assert publish(http, owner, FILES, name="a/model", visibility="review").status_code == 201
    signed = http.get("/api/v1/artifacts/a/model/versions/1.0.0", headers=owner).json
    _, secret = _link(http, owner, "a/model")

    document = http.get(f"/api/v1/review/{secret}").json
    assert document["digest"] == signed["digest"]
    assert [(f["size"], f["sha256"]) for f in document["manifest"]["files"]] == [
        (f["size"], f["sha256"]) for f in signed["manifest"]["files"]]
    assert sorted((f["size"], f["sha256"]) for f in document["manifest"]["files"]) == sorted(
        (len(data), digest_of(data)) for data in FILES.values())
    assert any("a" in digest_of(data)[7:] for data in FILES.values())  # the case this test is about
    for entry in document["manifest"]["files"]:
        blob = http.get(f"/api/v1/review/{secret}/blobs/{entry['sha256']}")
        assert blob.status_code == 200 and digest_of(blob.get_data()) == entry["sha256"]
        assert len(blob.get_data()) == entry["size"]


def test_the_review_badge_names_no_one_is_never_cached_and_each_fetch_is_a_use(http, make_user):
    _, alice = make_user("alice")
    assert publish(http, alice, FILES, name="alice/secret-model", visibility="review").status_code == 201
    link, secret = _link(http, alice, "alice/secret-model")

    svg = http.get(f"/review/{secret}/badge.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.headers["Cache-Control"] == "private, no-store" and "ETag" not in svg.headers
    body = svg.get_data(as_text=True)
    assert "reproducibility" in body and "alice" not in body.lower() and "secret-model" not in body
    shield = http.get(f"/review/{secret}/badge.json?kind=checklist")
    assert shield.status_code == 200 and shield.headers["Cache-Control"] == "private, no-store"
    assert json.loads(shield.get_data()) | {} == {"schemaVersion": 1, "label": "checklist", "message": "complete",
                                                  "color": "green", "cacheSeconds": 300}
    assert http.get(f"/review/{secret}/badge.json?kind=nope").status_code == 400

    page = http.get(f"/review/{secret}").get_data(as_text=True)
    assert f'src="http://localhost/review/{secret}/badge.svg"' in page and f"regctl verify http://localhost/review/" \
        f"{secret}" in page
    assert _uses(http, alice, "alice/secret-model") == ["badge (svg)", "badge (json)", "page"]

    assert http.delete(f"/api/v1/artifacts/alice/secret-model/review-links/{link['id']}",
                       headers=alice).status_code == 200
    assert http.get(f"/review/{secret}/badge.svg").status_code == 404
    assert http.get("/review/rvw_guess/badge.svg").status_code == 404


def test_a_file_fetched_in_ranges_is_one_use(http, make_user):
    _, alice = make_user("alice")
    assert publish(http, alice, FILES, name="alice/model", visibility="review").status_code == 201
    _, secret = _link(http, alice, "alice/model")
    weights = FILES["weights/model.safetensors"]
    digest = digest_of(weights)

    parts = [http.get(f"/api/v1/review/{secret}/blobs/{digest}", headers={"Range": f"bytes={start}-{stop}"})
             for start, stop in ((0, 999), (1000, 4999), (5000, len(weights) - 1))]
    assert [part.status_code for part in parts] == [206, 206, 206]
    assert all(part.headers["Cache-Control"] == "private, no-store" for part in parts)
    assert b"".join(part.get_data() for part in parts) == weights
    assert _uses(http, alice, "alice/model") == [f"file {digest}"]

    again = http.get(f"/api/v1/review/{secret}/blobs/{digest}")  # a second download is a second use
    assert again.status_code == 200 and again.get_data() == weights
    assert _uses(http, alice, "alice/model") == [f"file {digest}", f"file {digest}"]
