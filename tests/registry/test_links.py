"""Typed links: declared by a version, stored on publish, shown on both sides (API and pages), never leaking the
name of an artifact the reader cannot see."""

import pytest

from tests.registry.helpers import FILES, publish

GENERATOR = {"weights/model.safetensors": b"generator", "eval.py": b"print('gen')\n"}
DETECTOR = {"weights/model.safetensors": b"detector", "eval.py": b"print('det')\n"}


@pytest.fixture
def people(make_user):
    return make_user("alice")[1], make_user("bob")[1]


def links(http, name, headers=None):
    response = http.get(f"/api/v1/artifacts/{name}/links", headers=headers or {})
    assert response.status_code == 200, response.json
    return response.json


def test_a_link_appears_on_both_sides_in_the_api_and_on_the_pages(http, people):
    alice, _ = people
    assert publish(http, alice, GENERATOR, name="alice/gen").status_code == 201
    assert publish(http, alice, DETECTOR, name="alice/det", links=[
        {"type": "detector-for", "target": "alice/gen"}]).status_code == 201

    outgoing = links(http, "alice/det")
    assert outgoing["outgoing"] == [{"type": "detector-for", "version": "1.0.0", "target": "alice/gen",
                                     "visible": True}]
    assert outgoing["incoming"] == []
    incoming = links(http, "alice/gen")
    assert incoming["incoming"] == [{"type": "detector-for", "source": "alice/det", "version": "1.0.0",
                                     "yanked": False}]

    detector_page = http.get("/alice/det/1.0.0").get_data(as_text=True)
    assert 'id="links"' in detector_page and 'href="/alice/gen"' in detector_page
    generator_page = http.get("/alice/gen/1.0.0").get_data(as_text=True)
    assert "alice/det 1.0.0" in generator_page and "detector-for" in generator_page


def test_all_link_types_and_a_target_published_later(http, people):
    alice, _ = people
    declared = [{"type": "fine-tuned-from", "target": "alice/base"}, {"type": "trained-on", "target": "alice/data"},
                {"type": "supersedes", "target": "alice/old"}]
    assert publish(http, alice, FILES, name="alice/tuned", links=declared).status_code == 201
    before = links(http, "alice/tuned")["outgoing"]
    assert [link["target"] for link in before] == [None, None, None]  # not published: no name, like a private one
    assert publish(http, alice, GENERATOR, name="alice/base").status_code == 201
    after = links(http, "alice/tuned")["outgoing"]
    assert [(link["type"], link["target"]) for link in after] == [
        ("fine-tuned-from", "alice/base"), ("trained-on", None), ("supersedes", None)]
    assert links(http, "alice/base")["incoming"][0]["source"] == "alice/tuned"


def test_links_to_and_from_private_artifacts_do_not_leak_their_names(http, people):
    alice, bob = people
    assert publish(http, alice, GENERATOR, name="alice/secret-gen", visibility="private").status_code == 201
    assert publish(http, alice, DETECTOR, name="alice/secret-det", visibility="private", links=[
        {"type": "detector-for", "target": "bob/public"}]).status_code == 201
    assert publish(http, bob, FILES, name="bob/public", links=[
        {"type": "fine-tuned-from", "target": "alice/secret-gen"}]).status_code == 201

    for reader in ({}, bob):
        shown = links(http, "bob/public", reader)
        assert shown["incoming"] == []
        assert shown["outgoing"] == [{"type": "fine-tuned-from", "version": "1.0.0", "target": None,
                                      "visible": False}]
        page = http.get("/bob/public/1.0.0", headers=reader).get_data(as_text=True)
        assert "secret" not in page.split('id="links"')[1] and "an artifact you cannot see" in page
    owner = links(http, "bob/public", alice)
    assert owner["incoming"][0]["source"] == "alice/secret-det"
    assert owner["outgoing"][0]["target"] == "alice/secret-gen"
    assert http.get("/api/v1/artifacts/alice/secret-det/links").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # validation does not depend on it
@pytest.mark.parametrize("declared, problem", [
    ([{"type": "detector-for", "target": "alice/resnet"}], "its own artifact"),
    ([{"type": "trained-on", "target": "bob/x"}, {"type": "trained-on", "target": "bob/x"}], "listed twice"),
    ([{"type": "derived-from", "target": "bob/x"}], "link type must be one of"),
    ([{"type": "trained-on", "target": "not a name"}], "namespace/name"),
])
def test_bad_links_are_refused_with_the_field_named(http, people, declared, problem):
    response = publish(http, people[0], FILES, links=declared)
    assert response.status_code == 422 and response.json["error"]["code"] == "INVALID_MANIFEST"
    problems = response.json["error"]["details"]["problems"]
    assert any(key.startswith("links[") and problem in " ".join(messages) for key, messages in problems.items())
