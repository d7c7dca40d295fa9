"""Collaborators: the owner names them (and only the owner); they read and fetch at every stage and change
nothing; every change is audited; removing one ends their access at once. Then the same through regctl."""

import shutil

import pytest

from reproreg.models import AuditEvent
from reproreg.services import release
from reproreg.services.access import find_artifact
from reproreg.unit_of_work import unit_of_work
from tests.factories import make_project
from tests.live import LiveRegistry, Regctl
from tests.registry.helpers import FILES, digest_of, publish

NAME = "alice/model"
BASE = f"/api/v1/artifacts/{NAME}"
BLOB = digest_of(FILES["weights/model.safetensors"])


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path, migrated_sqlite):
    """The rules here do not depend on the database; the access matrix covers both."""
    path = tmp_path / "registry.db"
    shutil.copy(migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
def people(http, make_user):
    alice, bob, erin = make_user("alice")[1], make_user("bob")[1], make_user("erin")[1]
    assert publish(http, alice, FILES, name=NAME, visibility="private").status_code == 201
    return alice, bob, erin


def names(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [row["user"] for row in response.json["collaborators"]]


def test_only_the_owner_adds_lists_and_removes_collaborators_and_each_change_is_audited(app, http, people):
    alice, bob, erin = people
    assert http.post(f"{BASE}/collaborators", json={"user": "erin"}).status_code == 401
    assert http.post(f"{BASE}/collaborators", json={"user": "erin"}, headers=bob).status_code == 404  # unseen
    assert http.get(f"{BASE}/collaborators", headers=bob).status_code == 404
    assert http.get(BASE, headers=erin).status_code == 404  # not named yet: private is the owner's

    added = http.post(f"{BASE}/collaborators", json={"user": "erin"}, headers=alice)
    assert added.status_code == 201 and added.json["user"] == "erin"
    assert http.post(f"{BASE}/collaborators", json={"user": "erin"}, headers=alice).status_code == 201  # no twin
    assert names(http.get(f"{BASE}/collaborators", headers=alice)) == ["erin"]
    assert http.post(f"{BASE}/collaborators", json={"user": "nobody"}, headers=alice).json["error"]["code"] \
        == "NOT_FOUND"
    assert http.post(f"{BASE}/collaborators", json={"user": "alice"}, headers=alice).status_code == 400
    assert http.post(f"{BASE}/collaborators", json={}, headers=alice).status_code in (400, 422)

    # erin now reads and fetches the private artifact, but manages nothing: she sees it, so she is refused (403)
    assert http.get(BASE, headers=erin).status_code == 200
    with http.get(f"{BASE}/blobs/{BLOB}", headers=erin) as blob:
        assert blob.status_code == 200
    assert http.get(f"{BASE}/collaborators", headers=erin).status_code == 403
    assert http.post(f"{BASE}/collaborators", json={"user": "bob"}, headers=erin).status_code == 403
    assert http.delete(f"{BASE}/collaborators/erin", headers=erin).status_code == 403
    assert http.post(f"{BASE}/release/advance", json={}, headers=erin).status_code == 403
    assert http.post(f"{BASE}/review-links", json={}, headers=erin).status_code == 403
    assert http.post(f"{BASE}/versions/1.0.0/yank", json={"reason": "x"}, headers=erin).status_code == 403
    assert publish(http, erin, FILES, name=NAME, version="1.0.1").status_code == 403
    assert http.get(BASE, headers=bob).status_code == 404  # and nobody else gained anything

    assert http.delete(f"{BASE}/collaborators/bob", headers=alice).status_code == 404
    assert names(http.delete(f"{BASE}/collaborators/erin", headers=alice)) == []
    assert http.get(BASE, headers=erin).status_code == 404
    with http.get(f"{BASE}/blobs/{BLOB}", headers=erin) as blob:
        assert blob.status_code == 404

    with unit_of_work(app.extensions["registry"].sessions) as session:
        events = [(event.action, event.subject, event.details) for event in session.query(AuditEvent)
                  .filter(AuditEvent.action.like("artifact.collaborator%")).order_by(AuditEvent.seq)]
    assert events == [("artifact.collaborator_add", NAME, {"user": "erin"}),
                      ("artifact.collaborator_remove", NAME, {"user": "erin"})]


def test_a_collaborator_finds_the_artifact_in_search_at_every_stage(app, http, people):
    alice, bob, erin = people
    http.post(f"{BASE}/collaborators", json={"user": "erin"}, headers=alice)
    for stage in ("private", "review", "gated"):
        with unit_of_work(app.extensions["registry"].sessions) as session:
            release.set_stage(session, None, find_artifact(session, NAME), stage)
        found = {who: NAME in [e["name"] for e in http.get("/api/v1/artifacts?q=model", headers=headers)
                               .json["entries"]] for who, headers in (("erin", erin), ("bob", bob))}
        assert found == {"erin": True, "bob": stage == "gated"}, stage
        with http.get(f"{BASE}/blobs/{BLOB}", headers=erin) as blob:
            assert blob.status_code == 200, stage


def test_regctl_collaborators_add_list_remove(migrated_sqlite, tmp_path):
    """regctl against a registry process: the owner names, lists and removes; the collaborator pulls a private
    version while named, and is told it does not exist once removed."""
    shutil.copy(migrated_sqlite, tmp_path / "registry.db")
    live = LiveRegistry(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path / "blobs", tmp_path / "server.log").start()
    try:
        for home in ("alice", "erin"):
            (tmp_path / home).mkdir()
        alice = Regctl(live, tmp_path / "alice", live.create_user("alice"))
        erin = Regctl(live, tmp_path / "erin", live.create_user("erin"))
        project = make_project(tmp_path / "project", name="alice/secret", release={"stage": "private"})
        pushed = alice("push", project)
        assert pushed.code == 0, pushed.stderr
        assert erin("pull", "alice/secret", "-o", tmp_path / "early").code == 7

        added = alice("collaborators", "add", "alice/secret", "erin")
        assert added.code == 0 and "erin is a collaborator on alice/secret" in added.stdout
        listed = alice("collaborators", "list", "alice/secret", "--json")
        assert [row["user"] for row in listed.json()] == ["erin"]
        assert erin("collaborators", "list", "alice/secret").code == 6
        pulled = erin("pull", "alice/secret", "-o", tmp_path / "pulled")
        assert pulled.code == 0, pulled.stderr

        assert alice("collaborators", "remove", "alice/secret", "erin").code == 0
        assert alice("collaborators", "list", "alice/secret", "--json").json() == []
        assert erin("pull", "alice/secret", "-o", tmp_path / "late").code == 7
    finally:
        live.stop()
