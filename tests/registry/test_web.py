"""Pages, badges and venue exports through the app, on both databases."""

import csv
import io
import json
import re
import xml.etree.ElementTree as ElementTree

import pytest

from regctl.output import badge_snippets
from reproreg.config import Settings
from reproreg.unit_of_work import unit_of_work
from reproreg_schemas.vocabulary import BadgeKind
from tests.factories import author_file
from tests.registry.helpers import FILES, publish

SVG = "{http://www.w3.org/2000/svg}"
PUBLIC_URL = "https://registry.example.org"
ABSOLUTE_URL = re.compile(r"""\b[a-z][a-z0-9+.-]*://[^\s"'<>),\]]*""")


@pytest.fixture
def entries(app, http, make_user):
    from reproreg.services.venues import create_venue

    _, alice = make_user("alice")
    _, bob = make_user("bob")
    paper = {"title": "P", "venue": "neurips-2026", "authors": ["A. Author"]}
    assert publish(http, alice, FILES, name="alice/public-model", paper=paper).status_code == 201
    assert publish(http, alice, FILES, name="alice/secret-model", paper=paper,
                   visibility="private").status_code == 201
    with unit_of_work(app.extensions["registry"].sessions) as session:
        create_venue(session, "neurips-2026", "NeurIPS 2026", "bob")
    return alice, bob


def svg_text(data: bytes) -> str:
    root = ElementTree.fromstring(data)
    assert root.tag == f"{SVG}svg"
    return " ".join(t.text for t in root.iter(f"{SVG}text"))


def test_badges_are_svg_with_their_state_and_shields_json(http, entries):
    response = http.get("/badges/alice/public-model.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "available" in svg_text(response.data)
    for kind, text in (("reproduced", "not verified"), ("available", "yes"), ("checklist", "complete"),
                       ("functional", "not evaluated")):
        assert text in svg_text(http.get(f"/badges/alice/public-model/1.0.0.svg?kind={kind}").data)
    shield = http.get("/badges/alice/public-model/1.0.0.json?kind=reproduced").json
    assert shield == {"schemaVersion": 1, "label": "reproduced", "message": "not verified", "color": "lightgrey",
                      "cacheSeconds": 300}


def test_badges_are_cacheable_and_answer_304(http, entries):
    first = http.get("/badges/alice/public-model.svg")
    assert first.headers["ETag"] and "max-age" in first.headers["Cache-Control"]
    again = http.get("/badges/alice/public-model.svg", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = http.get("/badges/alice/public-model.json", headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200


@pytest.mark.parametrize("path", ["/badges/alice/secret-model.svg", "/badges/alice/nothing.svg",
                                  "/badges/nobody/nothing/9.9.9.svg", "/badges/alice/public-model/7.0.0.svg"])
def test_unknown_and_private_badges_are_grey_unknown(http, entries, path):
    response = http.get(path)
    assert response.status_code == 200 and "unknown" in svg_text(response.data)
    assert http.get(path.replace(".svg", ".json")).json["message"] == "unknown"


def test_private_entries_appear_nowhere_for_anyone_but_their_owner(http, entries):
    alice, bob = entries
    for who in ({}, bob):
        for path in ("/", "/?q=model", "/?venue=neurips-2026", "/?metric=top1", "/venues/neurips-2026",
                     "/venues/neurips-2026.csv", "/venues/neurips-2026.json", "/api/v1/venues/neurips-2026"):
            body = http.get(path, headers=who).get_data(as_text=True)
            assert "public-model" in body, path
            assert "secret-model" not in body, path
        for path in ("/alice/secret-model", "/alice/secret-model/1.0.0"):
            response = http.get(path, headers=who)
            assert response.status_code == 404 and "secret" not in response.get_data(as_text=True)
    owner_view = http.get("/venues/neurips-2026.csv", headers=alice).get_data(as_text=True)
    assert "secret-model" in owner_view
    assert "unknown" not in svg_text(http.get("/badges/alice/secret-model.svg", headers=alice).data)
    assert http.get("/badges/alice/secret-model.svg", headers=alice).headers["Cache-Control"] == "private, no-store"


def test_the_venue_csv_lists_every_entry_with_its_states(http, entries, make_user):
    _, carol = make_user("carol")
    paper = {"title": "Q", "venue": "neurips-2026"}
    assert publish(http, carol, FILES, name="carol/other", paper=paper).status_code == 201
    assert publish(http, carol, FILES, name="carol/elsewhere", paper={"title": "R", "venue": "icml-2026"}
                   ).status_code == 201
    rows = list(csv.DictReader(io.StringIO(http.get("/venues/neurips-2026.csv").get_data(as_text=True))))
    assert [(r["name"], r["version"]) for r in rows] == [("alice/public-model", "1.0.0"), ("carol/other", "1.0.0")]
    assert rows[0]["available"] == "True" and rows[0]["reproduced_state"] == "not verified"
    assert rows[0]["url"].endswith("/alice/public-model/1.0.0")
    exported = json.loads(http.get("/venues/neurips-2026.json").data)
    assert [e["name"] for e in exported["entries"]] == ["alice/public-model", "carol/other"]
    page = http.get("/venues/neurips-2026?state=reproduced").get_data(as_text=True)
    assert "public-model" not in page and "No entry in this state" in page


def test_chairs_add_reviewers_who_may_request_reference_runs(http, entries, make_user):
    alice, bob = entries
    _, carol = make_user("carol")
    assert http.post("/api/v1/venues/neurips-2026/members", json={"user": "carol"}, headers=carol).status_code == 403
    added = http.post("/api/v1/venues/neurips-2026/members", json={"user": "carol"}, headers=bob)
    assert added.status_code == 201 and added.json == {"user": "carol", "role": "reviewer"}
    job = http.post("/api/v1/artifacts/alice/public-model/versions/1.0.0/jobs", headers=carol)
    assert job.status_code == 201
    _, dave = make_user("dave")
    assert http.post("/api/v1/artifacts/alice/public-model/versions/1.0.0/jobs", headers=dave).status_code == 403


def test_the_version_page_shows_the_record(http, entries):
    page = http.get("/alice/public-model/1.0.0").get_data(as_text=True)
    for text in ("A. Author", "apache-2.0", "sha256:", "regctl pull alice/public-model@1.0.0", "top1",
                 "cifar10/test", "± 0.003", "MA1", "Training", "lr", "No known risks", "weights/model.safetensors"):
        assert text in page, text
    assert "<script" not in page and "http://cdn" not in page
    assert "lr: 0.1\nepochs: 3" in page  # the training config verbatim, next to its rendered form


def test_search_filters_by_name_metric_venue_and_state(http, entries):
    assert "public-model" in http.get("/?q=PUBLIC").get_data(as_text=True)
    assert "0 results" in http.get("/?metric=bleu").get_data(as_text=True)
    assert "0 results" in http.get("/?venue=icml-2026").get_data(as_text=True)
    assert "0 results" in http.get("/?state=reproduced").get_data(as_text=True)
    assert "1 result" in http.get("/?state=available").get_data(as_text=True)
    assert "state must be one of" in http.get("/?state=nonsense").get_data(as_text=True)


def test_api_docs_page_renders_the_openapi_description(http):
    page = http.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/artifacts/{namespace}/{name}/versions/{reference}" in page and "openapi.json" in page
    spec = http.get("/api/v1/openapi.json").json
    for path in ("/api/v1/venues/{slug}/members", "/api/v1/jobs/{job_id}/lease",
                 "/api/v1/artifacts/{namespace}/{name}/versions/{reference}/badges"):
        assert path in spec["paths"]


def test_reserved_names_cannot_be_namespaces(app):
    from reproreg.errors import RegistryError
    from reproreg.services.auth import create_user

    with unit_of_work(app.extensions["registry"].sessions) as session, pytest.raises(RegistryError):
        create_user(session, "badges")


class TestBehindAPublicURL:
    """REGISTRY_PUBLIC_URL names the registry as the world reaches it (e.g. behind a proxy): the pages, exports,
    API answers and badge snippets hand out that address, never the one a request happened to come to."""

    @pytest.fixture
    def settings(self, settings):
        return Settings.from_env({"REGISTRY_DATABASE_URL": settings.database_url,
                                  "REGISTRY_BLOB_DIR": str(settings.blob_dir), "REGISTRY_PUBLIC_URL": PUBLIC_URL})

    def test_every_absolute_url_starts_with_the_public_url(self, http, entries):
        alice, _ = entries
        answers = {path: http.get(path, base_url="http://10.0.0.7:8080").get_data(as_text=True)
                   for path in ("/", "/?q=model", "/alice/public-model", "/alice/public-model/1.0.0",
                                "/venues/neurips-2026", "/venues/neurips-2026.csv", "/venues/neurips-2026.json",
                                "/api/v1/docs", "/api/v1/artifacts/alice/public-model",
                                "/api/v1/artifacts/alice/public-model/versions/1.0.0",
                                "/api/v1/artifacts/alice/public-model/versions/latest/badges")}
        published = publish(http, alice, FILES, name="alice/public-model", version="1.1.0")
        yanked = http.post("/api/v1/artifacts/alice/public-model/versions/1.1.0/yank", json={"reason": "typo"},
                           headers=alice)
        version = http.get("/api/v1/artifacts/alice/public-model/versions/1.0.0").json
        answers.update({"PUT version": published.get_data(as_text=True), "yank": yanked.get_data(as_text=True)})
        answers.update({f"regctl badge --kind {kind}": json.dumps(badge_snippets(version, kind))
                        for kind in BadgeKind})

        authored = {author_file()["paper"]["url"], author_file()["training"]["code"]["repo"]}  # the manifests' own
        found = {where: [url for url in ABSOLUTE_URL.findall(text) if url not in authored]
                 for where, text in answers.items()}
        elsewhere = {where: [url for url in urls if url != PUBLIC_URL and not url.startswith(PUBLIC_URL + "/")]
                     for where, urls in found.items()}
        assert not any(elsewhere.values()), elsewhere

        page = f"{PUBLIC_URL}/alice/public-model/1.0.0"
        assert f"REGCTL_URL={PUBLIC_URL} regctl pull alice/public-model@1.0.0" in answers["/alice/public-model/1.0.0"]
        assert f"{PUBLIC_URL}/badges/alice/public-model/1.0.0.svg" in found["/alice/public-model/1.0.0"]
        assert page in found["/venues/neurips-2026.csv"] and page in found["/venues/neurips-2026.json"]
        assert json.loads(answers["/venues/neurips-2026.json"])["url"] == f"{PUBLIC_URL}/venues/neurips-2026"
        assert f"{PUBLIC_URL}/api/v1" in found["/api/v1/docs"]
        assert version["url"] == page and json.loads(answers["yank"])["url"] == f"{PUBLIC_URL}/alice/public-model/1.1.0"
        assert badge_snippets(version)["markdown"] == (f"[![reproducibility of alice/public-model 1.0.0]"
                                                       f"({PUBLIC_URL}/badges/alice/public-model/1.0.0.svg)]({page})")
        assert badge_snippets(version, BadgeKind.REPRODUCED)["shields_endpoint"] == (
            f"{PUBLIC_URL}/badges/alice/public-model/1.0.0.json?kind=reproduced")
