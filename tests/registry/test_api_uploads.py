"""Uploads through the API: streaming hash checks, resumable sessions, and who may use which blob."""

from reproreg.unit_of_work import unit_of_work
from tests.registry.helpers import FILES, digest_of, manifest_for, publish, upload

DATA = bytes(range(256)) * 4096  # 1 MiB


def test_missing_lists_only_what_the_caller_must_upload(http, make_user):
    _, alice = make_user("alice")
    present = upload(http, alice, b"already here")
    assert present["complete"] is True
    response = http.post("/api/v1/blobs/missing", json={"digests": [digest_of(b"already here"), digest_of(b"new")]},
                         headers=alice)
    assert response.status_code == 200
    assert response.json == {"missing": [digest_of(b"new")]}


def test_an_upload_in_chunks_must_start_at_the_stored_offset(app, http, make_user):
    _, alice = make_user("alice")
    state = http.post("/api/v1/uploads", json={"digest": digest_of(DATA), "size": len(DATA)}, headers=alice).json
    url = f"/api/v1/uploads/{state['id']}"
    first = http.patch(url, data=DATA[:1000], headers={**alice, "Upload-Offset": "0"})
    assert first.status_code == 200 and first.json["offset"] == 1000 and not first.json["complete"]

    wrong = http.patch(url, data=DATA[500:], headers={**alice, "Upload-Offset": "500"})
    assert wrong.status_code == 409
    assert wrong.json["error"]["code"] == "UPLOAD_OFFSET_MISMATCH"
    assert wrong.json["error"]["details"]["offset"] == 1000

    # A fresh process (no cached hash state) continues from storage.
    app.extensions["registry"].hash_states.drop(state["id"])
    resumed = http.post("/api/v1/uploads", json={"digest": digest_of(DATA), "size": len(DATA)}, headers=alice).json
    assert resumed["id"] == state["id"] and resumed["offset"] == 1000
    done = http.patch(url, data=DATA[1000:], headers={**alice, "Upload-Offset": "1000"})
    assert done.status_code == 200 and done.json["complete"] is True
    assert app.extensions["registry"].blobs.exists(digest_of(DATA))


def test_bytes_that_do_not_hash_to_the_declared_digest_are_refused_and_discarded(app, http, make_user):
    _, alice = make_user("alice")
    declared = digest_of(b"A" * 100)
    state = http.post("/api/v1/uploads", json={"digest": declared, "size": 100}, headers=alice).json
    response = http.patch(f"/api/v1/uploads/{state['id']}", data=b"B" * 100, headers={**alice, "Upload-Offset": "0"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "DIGEST_MISMATCH"
    assert not app.extensions["registry"].blobs.exists(declared)
    assert http.get(f"/api/v1/uploads/{state['id']}", headers=alice).status_code == 404


def test_more_bytes_than_declared_are_refused(app, http, make_user):
    _, alice = make_user("alice")
    state = http.post("/api/v1/uploads", json={"digest": digest_of(b"A" * 10), "size": 10}, headers=alice).json
    response = http.patch(f"/api/v1/uploads/{state['id']}", data=b"A" * 11, headers={**alice, "Upload-Offset": "0"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "SIZE_MISMATCH"


def test_blob_size_limit_is_enforced_before_any_byte(app, http, make_user):
    _, alice = make_user("alice")
    limit = app.extensions["registry"].settings.max_blob_bytes
    response = http.post("/api/v1/uploads", json={"digest": digest_of(b"x"), "size": limit + 1}, headers=alice)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_an_empty_file_is_a_blob_too(http, make_user):
    _, alice = make_user("alice")
    assert upload(http, alice, b"")["complete"] is True


def test_a_private_blob_must_be_uploaded_again_by_anyone_else(http, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    assert publish(http, alice, FILES, visibility="private").status_code == 201
    weights = digest_of(FILES["weights/model.safetensors"])
    missing = http.post("/api/v1/blobs/missing", json={"digests": [weights]}, headers=bob).json["missing"]
    assert missing == [weights]

    # Without the bytes, bob cannot build a version on alice's private blob...
    manifest = manifest_for(FILES, name="bob/copy")
    response = http.put("/api/v1/artifacts/bob/copy/versions/1.0.0", json={"manifest": manifest}, headers=bob)
    assert response.status_code == 409 and response.json["error"]["code"] == "BLOB_UNKNOWN"
    # ...with them (proof of possession), he can.
    assert publish(http, bob, FILES, name="bob/copy").status_code == 201


def test_uploads_need_a_token_and_belong_to_their_user(http, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    assert http.post("/api/v1/uploads", json={"digest": digest_of(b"x"), "size": 1}).status_code == 401
    state = http.post("/api/v1/uploads", json={"digest": digest_of(b"x"), "size": 1}, headers=alice).json
    assert http.get(f"/api/v1/uploads/{state['id']}", headers=bob).status_code == 404
    assert http.patch(f"/api/v1/uploads/{state['id']}", data=b"x",
                      headers={**bob, "Upload-Offset": "0"}).status_code == 404


def _fingerprint(data: bytes) -> str:
    from reproreg_schemas.digests import FINGERPRINT_EDGE, fingerprint

    return fingerprint(len(data), data[:FINGERPRINT_EDGE], data[-FINGERPRINT_EDGE:])


def test_an_upload_hashed_while_streaming_commits_only_with_the_right_digest(app, http, make_user):
    _, alice = make_user("alice")
    state = http.post("/api/v1/uploads", json={"size": len(DATA), "fingerprint": _fingerprint(DATA)},
                      headers=alice).json
    url = f"/api/v1/uploads/{state['id']}"
    early = http.put(url, json={"digest": digest_of(DATA)}, headers=alice)
    assert early.status_code == 409 and early.json["error"]["code"] == "UPLOAD_OFFSET_MISMATCH"
    received = http.patch(url, data=DATA, headers={**alice, "Upload-Offset": "0"}).json
    assert received["offset"] == len(DATA) and received["complete"] is False
    assert not app.extensions["registry"].blobs.exists(digest_of(DATA))

    wrong = http.put(url, json={"digest": digest_of(b"something else")}, headers=alice)
    assert wrong.status_code == 400 and wrong.json["error"]["code"] == "DIGEST_MISMATCH"
    assert not app.extensions["registry"].blobs.exists(digest_of(b"something else"))
    assert http.get(url, headers=alice).status_code == 404  # the bytes were discarded


def test_a_streamed_upload_is_finalised_by_its_digest(app, http, make_user):
    _, alice = make_user("alice")
    state = http.post("/api/v1/uploads", json={"size": len(DATA)}, headers=alice).json
    url = f"/api/v1/uploads/{state['id']}"
    http.patch(url, data=DATA, headers={**alice, "Upload-Offset": "0"})
    app.extensions["registry"].hash_states.drop(state["id"])  # e.g. finalised through another worker
    done = http.put(url, json={"digest": digest_of(DATA)}, headers=alice)
    assert done.status_code == 200 and done.json["complete"] is True
    assert app.extensions["registry"].blobs.exists(digest_of(DATA))
    assert http.put(url, json={"digest": digest_of(DATA)}, headers=alice).status_code == 200  # idempotent


def test_the_fingerprint_probe_knows_only_what_the_caller_holds_or_is_uploading(http, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    assert publish(http, alice, FILES, visibility="private").status_code == 201
    weights = FILES["weights/model.safetensors"]
    probe = {"fingerprints": [_fingerprint(weights), _fingerprint(DATA)]}
    assert http.post("/api/v1/blobs/probe", json=probe, headers=alice).json == {"known": [_fingerprint(weights)]}
    assert http.post("/api/v1/blobs/probe", json=probe, headers=bob).json == {"known": []}
    http.post("/api/v1/uploads", json={"size": len(DATA), "fingerprint": _fingerprint(DATA)}, headers=bob)
    assert http.post("/api/v1/blobs/probe", json=probe, headers=bob).json == {"known": [_fingerprint(DATA)]}


def test_abandoned_uploads_are_pruned_with_their_bytes(app, http, make_user):
    from datetime import timedelta

    from reproreg.models import UploadSession
    from reproreg.models.base import utcnow
    from reproreg.services.uploads import prune_abandoned

    _, alice = make_user("alice")
    ctx = app.extensions["registry"]
    old = http.post("/api/v1/uploads", json={"digest": digest_of(DATA), "size": len(DATA)}, headers=alice).json
    http.patch(f"/api/v1/uploads/{old['id']}", data=DATA[:100], headers={**alice, "Upload-Offset": "0"})
    fresh = http.post("/api/v1/uploads", json={"size": 10}, headers=alice).json
    upload(http, alice, b"finished long ago")
    with unit_of_work(ctx.sessions) as session:
        for row in session.query(UploadSession):
            row.created_at = utcnow() - timedelta(days=2) if row.id != fresh["id"] else row.created_at
        session.commit()
        assert prune_abandoned(ctx, session, 24 * 3600) == 1
    assert ctx.blobs.upload_offset(old["id"]) == 0
    assert http.get(f"/api/v1/uploads/{old['id']}", headers=alice).status_code == 404
    assert http.get(f"/api/v1/uploads/{fresh['id']}", headers=alice).status_code == 200
    assert http.post("/api/v1/blobs/missing", json={"digests": [digest_of(b"finished long ago")]},
                     headers=alice).json == {"missing": []}  # completed uploads stay as proof of possession


def test_an_empty_file_commits_without_a_byte_being_sent(app, http, make_user):
    _, alice = make_user("alice")
    empty = digest_of(b"")
    for start in ({"digest": empty, "size": 0, "fingerprint": _fingerprint(b"")},
                  {"size": 0, "fingerprint": _fingerprint(b"")}):
        state = http.post("/api/v1/uploads", json=start, headers=alice).json
        if state["complete"]:
            continue
        done = http.put(f"/api/v1/uploads/{state['id']}", json={"digest": empty}, headers=alice)
        assert done.status_code == 200, done.json
        assert done.json["complete"] is True and done.json["size"] == 0
    assert b"".join(app.extensions["registry"].blobs.read(empty)) == b""
    assert http.post("/api/v1/blobs/missing", json={"digests": [empty]}, headers=alice).json == {"missing": []}


def test_a_blob_quarantined_by_fsck_is_missing_until_its_bytes_come_again(app, http, make_user):
    from reproreg.services.integrity import fsck
    from reproreg.storage.local import blob_path

    _, alice = make_user("alice")
    assert publish(http, alice, FILES).status_code == 201
    ctx = app.extensions["registry"]
    weights = FILES["weights/model.safetensors"]
    digest = digest_of(weights)
    path = blob_path(ctx.blobs.root, digest)
    path.chmod(0o644)
    path.write_bytes(weights[::-1])
    with unit_of_work(ctx.sessions) as session:
        report = fsck(ctx, session)
    assert [entry["digest"] for entry in report.damaged] == [digest] and report.checked == len(FILES)

    assert http.post("/api/v1/blobs/missing", json={"digests": [digest]}, headers=alice).json == {"missing": [digest]}
    download = http.get(f"/api/v1/artifacts/alice/resnet/blobs/{digest}")
    assert download.status_code == 404 and download.json["error"]["code"] == "NOT_FOUND"
    state = upload(http, alice, weights)
    assert state["complete"] is True and state["id"] is not None  # the bytes were sent, not taken as held
    assert http.post("/api/v1/blobs/missing", json={"digests": [digest]}, headers=alice).json == {"missing": []}
    assert http.get(f"/api/v1/artifacts/alice/resnet/blobs/{digest}").data == weights
    with unit_of_work(ctx.sessions) as session:
        assert fsck(ctx, session).sound
