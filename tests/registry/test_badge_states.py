"""Badge states are stored per version and follow every change that moves them, in the same transaction."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from reproreg.models import SigningKey, Verification, Version, VersionState
from reproreg.services import badge_states
from reproreg.services.access import find_artifact
from reproreg.unit_of_work import unit_of_work
from reproreg_schemas.vocabulary import Outcome, VerifierRole
from tests.registry.helpers import FILES, digest_of, publish, upload


def stored(app, name: str = "alice/resnet") -> dict[str, VersionState]:
    with unit_of_work(app.extensions["registry"].sessions) as session:
        artifact = find_artifact(session, name)
        rows = session.execute(select(Version.version, VersionState)
                               .join(VersionState, VersionState.version_id == Version.id)
                               .where(Version.artifact_id == artifact.id)).all()
        session.expunge_all()
        return {number: state for number, state in rows}


@pytest.fixture
def alice(make_user):
    return make_user("alice")[1]


def test_publish_stores_states_and_the_latest_version_follows_publish_and_yank(app, http, alice):
    assert publish(http, alice, FILES).status_code == 201
    (first,) = stored(app).values()
    assert first.latest and first.available and first.revision == 1 and first.rank == 0
    assert publish(http, alice, FILES, version="1.1.0").status_code == 201
    assert publish(http, alice, FILES, version="2.0.0-rc.1").status_code == 201
    states = stored(app)
    assert [n for n, s in sorted(states.items(), key=lambda i: i[1].rank)] == ["2.0.0-rc.1", "1.1.0", "1.0.0"]
    assert [n for n, s in states.items() if s.latest] == ["1.1.0"]  # releases before pre-releases

    assert http.post("/api/v1/artifacts/alice/resnet/versions/1.1.0/yank", json={"reason": "wrong weights"},
                     headers=alice).status_code == 200
    states = stored(app)
    assert states["1.1.0"].yanked and states["1.1.0"].revision == 2 and not states["1.1.0"].latest
    assert states["1.0.0"].latest and states["1.0.0"].revision == 1  # its own states did not change


def test_a_visibility_change_turns_available_off_for_every_version(app, http, alice):
    assert publish(http, alice, FILES).status_code == 201
    assert publish(http, alice, FILES, version="1.1.0").status_code == 201
    assert publish(http, alice, FILES, version="1.1.0", visibility="private").status_code == 200
    assert [s.available for s in stored(app).values()] == [False, False]


def test_a_trusted_verification_makes_functional_and_reproduced_and_a_new_revision(app, http, alice):
    from reproreg.services.auth import create_user

    assert publish(http, alice, FILES).status_code == 201
    before = stored(app)["1.0.0"]
    with unit_of_work(app.extensions["registry"].sessions) as session:
        worker = create_user(session, "ref-worker", is_worker=True)
        session.add(SigningKey(id="k1", user_id=worker.id, public_key="k1"))
        version = session.scalar(select(Version))
        session.add(Verification(version_id=version.id, verifier_id=worker.id, role=VerifierRole.REFERENCE_WORKER,
                                 key_id="k1", signature="s", nonce="n", digest=version.digest,
                                 outcome=Outcome.REPRODUCED, sandbox="none", hardware="cpu", accelerator_used="cpu",
                                 report={}, created_at=datetime.now(UTC)))
        session.flush()
        badge_states.refresh(session, version)
    after = stored(app)["1.0.0"]
    assert (before.functional, before.reproduced_state) == (False, "not verified")
    assert (after.functional, after.reproduced_state, after.held) == (True, "reproduced", 1)
    assert after.revision == before.revision + 1
    badge = http.get("/badges/alice/resnet.svg?kind=reproduced")
    assert b"yes" in badge.data and badge.headers["ETag"].endswith(f'.{after.revision}.reproduced.svg"')


def test_a_quarantined_blob_turns_available_off_until_its_bytes_come_again(app, http, alice):
    from reproreg.services.integrity import fsck
    from reproreg.storage.local import blob_path

    assert publish(http, alice, FILES).status_code == 201
    ctx = app.extensions["registry"]
    weights = FILES["weights/model.safetensors"]
    path = blob_path(ctx.blobs.root, digest_of(weights))
    path.chmod(0o644)
    path.write_bytes(weights[::-1])
    with unit_of_work(ctx.sessions) as session:
        assert len(fsck(ctx, session).damaged) == 1
    assert not stored(app)["1.0.0"].available
    assert "no" in http.get("/badges/alice/resnet.json?kind=available").json["message"]
    assert upload(http, alice, weights)["complete"] is True
    assert stored(app)["1.0.0"].available
    assert http.get("/badges/alice/resnet.json?kind=available").json["message"] == "yes"


def test_stored_states_equal_what_the_rules_compute(app, http, alice):
    assert publish(http, alice, FILES).status_code == 201
    with unit_of_work(app.extensions["registry"].sessions) as session:
        version = session.scalar(select(Version))
        row = session.get(VersionState, version.id)
        assert {c: getattr(row, c) for c in badge_states.STATE_COLUMNS} == badge_states.compute(session, version)


def test_a_badge_answers_304_after_one_query_and_a_new_etag_after_a_change(app, http, alice):
    assert publish(http, alice, FILES).status_code == 201
    first = http.get("/badges/alice/resnet.svg")
    engine = app.extensions["registry"].engine
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        again = http.get("/badges/alice/resnet.svg", headers={"If-None-Match": first.headers["ETag"]})
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert again.status_code == 304 and again.data == b""
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/yank", json={"reason": "r"},
                     headers=alice).status_code == 200
    # the latest badge is now unknown (no version left that is not yanked); the version's own badge turned grey
    assert http.get("/badges/alice/resnet.svg", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200
    yanked = http.get("/badges/alice/resnet/1.0.0.svg", headers={"If-None-Match": first.headers["ETag"]})
    assert yanked.status_code == 200 and b"yanked" in yanked.data
