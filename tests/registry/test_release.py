"""Release stages: staged plans on an injected clock (a pause holds, resume continues), the ethics gate refusing
with exactly what is missing and allowing once it is present, gated access requests and review links."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from reproreg.models import Artifact, AuditEvent, Namespace, SigningKey, User, Verification, Version
from reproreg.services import release
from reproreg.unit_of_work import unit_of_work
from tests.registry.helpers import FILES, publish

BIAS = {"metric": "stereoset_icat", "value": 0.7, "dataset": "stereoset/dev", "tolerance": {"abs": 0.01},
        "kind": "bias"}
ACCURACY = {"metric": "top1", "value": 0.9, "dataset": "d/test", "tolerance": {"abs": 0.01}}
PLAN = [{"stage": "gated", "on": "2026-12-01"}, {"stage": "public", "on": "2027-03-01"}]


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path, migrated_sqlite):
    """Database-independent rules run on SQLite only; the access matrix covers both databases."""
    import shutil

    path = tmp_path / "registry.db"
    shutil.copy(migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
def people(make_user):
    return make_user("alice")[1], make_user("bob")[1]


def tick(app, when: datetime) -> list[dict]:
    with unit_of_work(app.extensions["registry"].sessions) as session:
        return release.advance_due(session, when)


def stage(http, name="alice/model", headers=None) -> dict:
    response = http.get(f"/api/v1/artifacts/{name}/release", headers=headers or {})
    assert response.status_code == 200, response.json
    return response.json


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_plan_advances_on_schedule_a_pause_holds_it_and_resume_continues(app, http, people):
    alice, _ = people
    assert publish(http, alice, FILES, name="alice/model", visibility="review").status_code == 201
    put = http.put("/api/v1/artifacts/alice/model/release", json={"plan": PLAN}, headers=alice)
    assert put.status_code == 200, put.json
    assert [step["stage"] for step in put.json["plan"]] == ["gated", "public"]

    assert tick(app, at("2026-11-30T23:59:59")) == []
    assert stage(http, headers=alice)["stage"] == "review"
    assert http.get("/api/v1/artifacts/alice/model").status_code == 404  # review: not readable by anyone else
    assert tick(app, at("2026-12-01T00:00:00")) == [{"name": "alice/model", "stage": "gated"}]
    assert stage(http)["stage"] == "gated"  # gated: the metadata is public
    badges = "/api/v1/artifacts/alice/model/versions/1.0.0/badges"
    assert http.get(badges).json["available"] is False  # only a public version is available (ACM)

    paused = http.post("/api/v1/artifacts/alice/model/release/pause", json={"reason": "misuse reports under review"},
                       headers=alice)
    assert paused.status_code == 200 and paused.json["paused"] is True
    assert tick(app, at("2027-03-02T00:00:00")) == []
    held = stage(http)
    assert held["stage"] == "gated" and held["pause_reason"] == "misuse reports under review"
    page = http.get("/alice/model").get_data(as_text=True)
    assert "misuse reports under review" in page and "2027-03-01" in page

    assert http.post("/api/v1/artifacts/alice/model/release/resume", headers=alice).status_code == 200
    assert tick(app, at("2027-03-02T00:00:01")) == [{"name": "alice/model", "stage": "public"}]
    assert http.get(badges).json["available"] is True
    assert stage(http)["stage"] == "public" and all(step["reached_at"] for step in stage(http)["plan"])
    assert tick(app, at("2027-04-01T00:00:00")) == []
    with unit_of_work(app.extensions["registry"].sessions) as session:
        actions = [event.action for event in session.query(AuditEvent).order_by(AuditEvent.seq)]
    assert actions.count("artifact.stage") == 2 and "artifact.release_pause" in actions
    assert "artifact.release_resume" in actions and "artifact.plan" in actions


def test_only_the_owner_pauses_and_advances_early(http, people):
    alice, bob = people
    assert publish(http, alice, FILES, name="alice/model", visibility="private").status_code == 201
    assert http.post("/api/v1/artifacts/alice/model/release/advance", json={}, headers=bob).status_code == 404
    assert http.post("/api/v1/artifacts/alice/model/release/pause", json={"reason": "x"}).status_code == 401
    early = http.post("/api/v1/artifacts/alice/model/release/advance", json={}, headers=alice)
    assert early.status_code == 200 and early.json["stage"] == "review"
    assert http.post("/api/v1/artifacts/alice/model/release/pause", json={"reason": "x"}, headers=bob).status_code \
        == 404  # review: bob cannot even see it
    assert http.post("/api/v1/artifacts/alice/model/release/advance", json={"stage": "public"},
                     headers=alice).json["stage"] == "public"
    assert http.post("/api/v1/artifacts/alice/model/release/pause", json={"reason": "x"}, headers=bob).status_code \
        == 403


def record_trusted_bias_verification(app, name: str, verdict: str, number: str = "1.1.0") -> None:
    namespace, artifact = name.split("/")
    with unit_of_work(app.extensions["registry"].sessions) as session:
        user = session.query(User).filter(User.name == "bob").one()
        version = (session.query(Version).join(Artifact).join(Namespace)
                   .filter(Namespace.name == namespace, Artifact.name == artifact, Version.version == number).one())
        key = SigningKey(id=secrets.token_hex(8), user_id=user.id, public_key=secrets.token_hex(16))
        session.add(key)
        session.add(Verification(
            version_id=version.id, verifier_id=user.id, role="reference-worker", key_id=key.id,
            signature=secrets.token_hex(32), nonce=secrets.token_hex(16), digest=version.digest,
            outcome="reproduced" if verdict == "held" else "claim_failed", sandbox="bubblewrap", hardware="CPU",
            accelerator_used="cpu", report={"claims": [{"metric": BIAS["metric"], "dataset": BIAS["dataset"],
                                                        "verdict": verdict}]},
            created_at=datetime.now(UTC)))


def test_the_ethics_gate_lists_exactly_what_is_missing_and_allows_once_present(app, http, people):
    alice, _ = people
    assert publish(http, alice, FILES, name="alice/gen", visibility="private", claims=[ACCURACY],
                   ethics=None).status_code == 201
    assert http.put("/api/v1/artifacts/alice/gen/release", json={"risk": "high", "generative": True},
                    headers=alice).status_code == 200

    refused = http.post("/api/v1/artifacts/alice/gen/release/advance", json={"stage": "gated"}, headers=alice)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "RELEASE_BLOCKED"
    assert refused.json["error"]["details"]["missing"] == ["ethics_statement", "bias_claim", "bias_verification",
                                                          "detector"]
    assert "broader-impact statement" in refused.json["error"]["message"]
    # a publish asking for the stage is refused the same way, and changes nothing
    again = publish(http, alice, FILES, name="alice/gen", visibility="public", claims=[ACCURACY], ethics=None)
    assert again.status_code == 409 and again.json["error"]["details"]["missing"][0] == "ethics_statement"
    assert stage(http, "alice/gen", alice)["stage"] == "private"

    ethics = {"statement": "Could generate convincing fakes; released in stages with a detector.",
              "bias_evaluations": [], "detector": None}
    assert publish(http, alice, FILES, name="alice/gen", version="1.1.0", visibility="private",
                   claims=[ACCURACY, BIAS], ethics=ethics).status_code == 201
    refused = http.post("/api/v1/artifacts/alice/gen/release/advance", json={"stage": "gated"}, headers=alice)
    assert refused.json["error"]["details"]["missing"] == ["bias_verification", "detector"]

    record_trusted_bias_verification(app, "alice/gen", "failed")
    refused = http.post("/api/v1/artifacts/alice/gen/release/advance", json={"stage": "gated"}, headers=alice)
    assert refused.json["error"]["details"]["missing"] == ["bias_verification", "detector"]  # it must hold
    record_trusted_bias_verification(app, "alice/gen", "held")
    assert http.post("/api/v1/artifacts/alice/gen/release/advance", json={"stage": "gated"},
                     headers=alice).json["error"]["details"]["missing"] == ["detector"]

    detector = {"weights/model.safetensors": b"detector", "eval.py": b"print('det')\n"}
    assert publish(http, alice, detector, name="alice/det", visibility="private",
                   links=[{"type": "detector-for", "target": "alice/gen"}]).status_code == 201
    assert http.post("/api/v1/artifacts/alice/gen/release/advance", json={"stage": "gated"},
                     headers=alice).json["error"]["details"]["missing"] == ["detector"]  # not released itself
    assert http.post("/api/v1/artifacts/alice/det/release/advance", json={"stage": "public"},
                     headers=alice).status_code == 200
    allowed = http.post("/api/v1/artifacts/alice/gen/release/advance", json={"stage": "gated"}, headers=alice)
    assert allowed.status_code == 200, allowed.json
    assert allowed.json["stage"] == "gated"


def test_a_blocked_plan_step_stays_put_records_why_and_moves_once_the_gate_allows(app, http, people):
    alice, _ = people
    assert publish(http, alice, FILES, name="alice/model", visibility="review", ethics=None).status_code == 201
    assert http.put("/api/v1/artifacts/alice/model/release", json={"risk": "high", "plan": PLAN},
                    headers=alice).status_code == 200
    blocked = tick(app, at("2026-12-02T00:00:00"))
    assert blocked == [{"name": "alice/model", "stage": "gated",
                        "missing": ["ethics_statement", "bias_claim", "bias_verification"]}]
    assert stage(http, headers=alice)["stage"] == "review"
    assert stage(http, headers=alice)["blocked"] == ["ethics_statement", "bias_claim", "bias_verification"]
    assert http.put("/api/v1/artifacts/alice/model/release", json={"risk": "normal"}, headers=alice).status_code == 200
    assert tick(app, at("2026-12-03T00:00:00")) == [{"name": "alice/model", "stage": "gated"}]
    assert stage(http)["blocked"] == []


def test_gated_access_is_requested_decided_and_kept(http, people, make_user):
    alice, bob = people
    _, carol = make_user("carol")
    assert publish(http, alice, FILES, name="alice/model", visibility="gated").status_code == 201
    weights = next(iter(http.get("/api/v1/artifacts/alice/model/versions/latest").json["manifest"]["files"]))
    page = http.get("/alice/model/1.0.0").get_data(as_text=True)
    assert "regctl access request alice/model" in page

    asked = http.post("/api/v1/artifacts/alice/model/access-requests", json={"purpose": "bias audit"}, headers=bob)
    assert asked.status_code == 201 and asked.json["state"] == "pending"
    http.post("/api/v1/artifacts/alice/model/access-requests", json={"purpose": "fun"}, headers=carol)
    assert [r["requester"] for r in http.get("/api/v1/artifacts/alice/model/access-requests",
                                             headers=alice).json["requests"]] == ["bob", "carol"]
    assert [r["requester"] for r in http.get("/api/v1/artifacts/alice/model/access-requests",
                                             headers=bob).json["requests"]] == ["bob"]
    assert http.post(f"/api/v1/artifacts/alice/model/access-requests/{asked.json['id']}/approve", json={},
                     headers=bob).status_code == 403
    decided = http.post(f"/api/v1/artifacts/alice/model/access-requests/{asked.json['id']}/approve",
                        json={"conditions": "no redistribution"}, headers=alice)
    assert decided.json["state"] == "approved" and decided.json["conditions"] == "no redistribution"
    denied = http.get("/api/v1/artifacts/alice/model/access-requests", headers=alice).json["requests"][1]["id"]
    assert http.post(f"/api/v1/artifacts/alice/model/access-requests/{denied}/deny", json={},
                     headers=alice).json["state"] == "denied"
    from reproreg.services import access  # the one check every byte route must pass

    with unit_of_work(http.application.extensions["registry"].sessions) as session:
        artifact = access.find_artifact(session, "alice/model")
        users = {u.name: u for u in session.query(User)}
        assert [access.can_fetch(session, users[n], artifact) for n in ("alice", "bob", "carol")] == \
            [True, True, False]
        assert not access.can_fetch(session, None, artifact)
    assert weights["sha256"]


def test_review_links_expire_can_be_revoked_and_every_use_is_logged(app, http, people):
    alice, _ = people
    assert publish(http, alice, FILES, name="alice/model", visibility="review").status_code == 201
    made = http.post("/api/v1/artifacts/alice/model/review-links", json={"version": "1.0.0", "expires_days": 30},
                     headers=alice)
    assert made.status_code == 201, made.json
    secret = made.json["secret"]
    document = http.get(f"/api/v1/review/{secret}")
    assert document.status_code == 200
    text = document.get_data(as_text=True).lower()
    assert "alice" not in text and document.json["name"].startswith("anonymous/submission-")
    assert "url" not in document.json["manifest"]["paper"] and "code" not in document.json["manifest"]["training"]
    digest = document.json["manifest"]["files"][0]["sha256"]
    blob = http.get(f"/api/v1/review/{secret}/blobs/{digest}")
    assert blob.status_code == 200 and blob.headers["X-Content-Digest"] == digest
    page = http.get(f"/review/{secret}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-store"
    assert "alice" not in page.get_data(as_text=True).lower() and f"regctl pull http://localhost/review/{secret}" \
        in page.get_data(as_text=True)
    uses = http.get("/api/v1/artifacts/alice/model/review-links", headers=alice).json["links"][0]["uses"]
    assert [use["what"] for use in uses] == ["version document", f"file {digest}", "page"]

    assert http.delete(f"/api/v1/artifacts/alice/model/review-links/{made.json['id']}",
                       headers=alice).status_code == 200
    gone = http.get(f"/api/v1/review/{secret}")
    assert gone.status_code == 404 and gone.json["error"]["code"] == "REVIEW_LINK_INVALID"
    assert http.get(f"/review/{secret}").status_code == 404
    assert http.get("/api/v1/review/rvw_guess").json["error"]["code"] == "REVIEW_LINK_INVALID"

    later = http.post("/api/v1/artifacts/alice/model/review-links", json={"expires_days": 1}, headers=alice).json
    with unit_of_work(app.extensions["registry"].sessions) as session:
        from reproreg.models import ReviewLink

        session.get(ReviewLink, later["id"]).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert http.get(f"/api/v1/review/{later['secret']}").json["error"]["code"] == "REVIEW_LINK_INVALID"


def test_the_ticker_of_registry_serve_and_registry_release_tick_take_due_steps(app, http, people, settings,
                                                                                monkeypatch):
    from click.testing import CliRunner

    from reproreg.cli import ReleaseTicker, main

    alice, _ = people
    assert publish(http, alice, FILES, name="alice/model", visibility="private").status_code == 201
    assert http.put("/api/v1/artifacts/alice/model/release", json={"plan": [{"stage": "review", "on": "2026-06-01"},
                                                                            {"stage": "public", "on": "2999-01-01"}]},
                    headers=alice).status_code == 200
    clock = [at("2026-05-31T12:00:00")]
    ticker = ReleaseTicker(app.extensions["registry"].sessions, interval_s=0.01, clock=lambda: clock[0])
    assert ticker.tick() == []
    clock[0] = at("2026-06-01T00:00:00")
    assert ticker.tick() == [{"name": "alice/model", "stage": "review"}]
    assert ticker.tick() == []  # a step taken twice is a no-op
    monkeypatch.setenv("REGISTRY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REGISTRY_BLOB_DIR", str(settings.blob_dir))
    result = CliRunner().invoke(main, ["release", "tick", "--json"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[0] == "[]"  # the real clock: public is due in 2999


def test_a_venue_chair_sets_the_risk_but_nothing_else(app, http, people, make_user):
    from reproreg.services.venues import create_venue

    alice, bob = people
    _, chair = make_user("dave")
    with unit_of_work(app.extensions["registry"].sessions) as session:
        create_venue(session, "ethics-2026", "Ethics 2026", "dave")
    assert publish(http, alice, FILES, name="alice/model", visibility="private", ethics=None,
                   paper={"title": "P", "venue": "ethics-2026"}).status_code == 201
    assert http.put("/api/v1/artifacts/alice/model/release", json={"risk": "high"}, headers=chair).status_code == 404
    assert http.post("/api/v1/artifacts/alice/model/release/advance", json={"stage": "public"},
                     headers=alice).status_code == 200
    assert http.put("/api/v1/artifacts/alice/model/release", json={"risk": "high"}, headers=bob).status_code == 403
    chaired = http.put("/api/v1/artifacts/alice/model/release", json={"risk": "high"}, headers=chair)
    assert chaired.json["risk"] == "high"
    refused = http.put("/api/v1/artifacts/alice/model/release", json={"stage": "private"}, headers=chair)
    assert refused.status_code == 403 and "stage" in refused.json["error"]["message"]
    # already public: the gate applies to raising the stage, and lowering it stays the owner's choice
    assert http.put("/api/v1/artifacts/alice/model/release", json={"stage": "gated"}, headers=alice).status_code == 200
    blocked = http.put("/api/v1/artifacts/alice/model/release", json={"stage": "public"}, headers=alice)
    assert blocked.status_code == 409 and blocked.json["error"]["details"]["missing"] == [
        "ethics_statement", "bias_claim", "bias_verification"]


def test_reference_workers_see_an_artifact_from_the_review_stage_on_so_its_claims_can_be_verified(app, http, people):
    from reproreg.services import access
    from reproreg.services.auth import create_user

    alice, _ = people
    assert publish(http, alice, FILES, name="alice/model", visibility="private").status_code == 201
    with unit_of_work(app.extensions["registry"].sessions) as session:
        create_user(session, "reference", is_worker=True)
    seen = {}
    for stage_name in ("private", "review", "gated", "public"):
        with unit_of_work(app.extensions["registry"].sessions) as session:
            artifact = access.find_artifact(session, "alice/model")
            release.set_stage(session, None, artifact, stage_name)
            worker = session.query(User).filter(User.name == "reference").one()
            listed = session.query(Artifact).filter(access.readable_artifact_filter(worker)).count() == 1
            seen[stage_name] = (access.can_read(worker, artifact), listed, access.can_fetch(session, worker, artifact))
    assert seen == {"private": (False, False, False), "review": (True, True, True), "gated": (True, True, True),
                    "public": (True, True, True)}
