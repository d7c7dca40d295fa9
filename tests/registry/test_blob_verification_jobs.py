"""Verification jobs for large uploads: one lease per upload, taken with a conditional UPDATE; a job whose
process died is taken up once its lease has expired; a mismatch leaves the error on the upload; nothing is
published from content still being verified.

The jobs read the upload back through the BlobStore interface, so the local store stands in for the bucket
here (the S3 path, with moto's server, is in tests/e2e/test_s3.py)."""

import base64
import hashlib
import secrets
import time
from datetime import timedelta

import pytest

from reproreg.errors import RegistryError
from reproreg.jobs.blob_verification import BlobVerifier
from reproreg.models import Blob, MultipartUpload, UploadSession
from reproreg.models.base import utcnow
from reproreg.services import multipart
from reproreg.services.auth import get_user
from reproreg.services.uploads import refuse_verifying, upload_state
from reproreg.unit_of_work import unit_of_work

PART = 1 << 16
DATA = secrets.token_bytes(3 * PART + 123)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def verifying_upload(app, user_name: str, data: bytes = DATA, declared: str | None = None) -> str:
    """An upload whose bytes are all stored and whose record says it is verifying: what completing a large
    multipart upload leaves for the job."""
    registry = app.extensions["registry"]
    upload_id = secrets.token_hex(16)
    with unit_of_work(registry.sessions) as session:
        user = get_user(session, user_name)
        session.add(UploadSession(id=upload_id, user_id=user.id, digest=declared or digest_of(data), size=len(data)))
        session.flush()
        parts = {str(number): {"size": len(data[start:start + PART]), "expires": 0,
                               "sha256": base64.b64encode(hashlib.sha256(data[start:start + PART]).digest()).decode()}
                 for number, start in enumerate(range(0, len(data), PART), start=1)}
        session.add(MultipartUpload(upload_id=upload_id, storage_id="-", part_size=PART, parts=parts,
                                    status="verifying"))
    registry.blobs.append(upload_id, 0, [data])
    return upload_id


def state_of(app, upload_id: str) -> dict:
    registry = app.extensions["registry"]
    with unit_of_work(registry.sessions) as session:
        return upload_state(registry, session.get(UploadSession, upload_id))


def test_only_one_process_holds_an_uploads_lease_until_it_expires(app, make_user):
    make_user("alice")
    upload_id = verifying_upload(app, "alice")
    sessions, now = app.extensions["registry"].sessions, utcnow()
    with unit_of_work(sessions) as session:
        assert multipart.take_verification(session, upload_id, "first", now, 60)["size"] == len(DATA)
    with unit_of_work(sessions) as session:
        assert multipart.take_verification(session, upload_id, "second", now + timedelta(seconds=59), 60) is None
        assert multipart.stalled_verifications(session, now + timedelta(seconds=59)) == []
        assert not multipart.renew_verification(session, upload_id, "second", now, 60)
        assert multipart.renew_verification(session, upload_id, "first", now + timedelta(seconds=30), 60)
    later = now + timedelta(seconds=91)  # the renewed lease has expired: the holder is presumed dead
    with unit_of_work(sessions) as session:
        assert multipart.stalled_verifications(session, later) == [upload_id]
        assert multipart.take_verification(session, upload_id, "second", later, 60) is not None
    with unit_of_work(sessions) as session:
        assert not multipart.renew_verification(session, upload_id, "first", later, 60)  # the first lost it


def test_a_verification_whose_process_died_is_taken_up_once_its_lease_expires(app, make_user):
    make_user("alice")
    upload_id = verifying_upload(app, "alice")
    registry, now = app.extensions["registry"], utcnow()
    with unit_of_work(registry.sessions) as session:  # a process took the lease, then died without settling
        assert multipart.take_verification(session, upload_id, "crashed", now, 60) is not None
    assert BlobVerifier(registry, lease_s=60, clock=lambda: now + timedelta(seconds=30)).verify(upload_id) is None
    assert state_of(app, upload_id)["status"] == "verifying"

    verifier = BlobVerifier(registry, lease_s=60, clock=lambda: now + timedelta(seconds=61))
    assert verifier.resume_stalled(upload_id) == [upload_id]  # what a poll of the upload does: a job takes it up
    deadline = time.monotonic() + 10
    while state_of(app, upload_id)["status"] != "complete":
        assert time.monotonic() < deadline, "the job did not settle the upload"
        time.sleep(0.05)
    assert registry.blobs.exists(digest_of(DATA))
    with unit_of_work(registry.sessions) as session:
        assert session.get(Blob, digest_of(DATA)).size == len(DATA)
        assert session.get(MultipartUpload, upload_id) is None


def test_a_mismatch_found_by_the_job_deletes_the_bytes_and_leaves_the_error_on_the_upload(app, make_user):
    make_user("alice")
    claimed = digest_of(b"other content")
    upload_id = verifying_upload(app, "alice", declared=claimed)
    registry = app.extensions["registry"]
    assert BlobVerifier(registry).verify(upload_id) == "failed"
    state = state_of(app, upload_id)
    assert state["status"] == "failed" and state["complete"] is False
    assert state["error"]["code"] == "DIGEST_MISMATCH"
    assert state["error"]["details"] == {"expected": claimed, "actual": digest_of(DATA)}
    assert registry.blobs.upload_offset(upload_id) == 0
    assert not registry.blobs.exists(digest_of(DATA)) and not registry.blobs.exists(claimed)
    assert BlobVerifier(registry).verify(upload_id) is None  # settled: nothing left to take


def test_a_damaged_part_found_by_the_job_is_named(app, make_user):
    make_user("alice")
    damaged = DATA[:PART + 5] + bytes([DATA[PART + 5] ^ 1]) + DATA[PART + 6:]
    upload_id = verifying_upload(app, "alice", data=DATA, declared=digest_of(DATA))
    registry = app.extensions["registry"]
    registry.blobs.discard(upload_id)
    registry.blobs.append(upload_id, 0, [damaged])
    assert BlobVerifier(registry).verify(upload_id) == "failed"
    error = state_of(app, upload_id)["error"]
    assert error["code"] == "PART_CHECKSUM_MISMATCH" and error["details"] == {"part": 2}


def test_a_version_naming_content_still_being_verified_is_refused_with_a_stable_code(app, make_user):
    make_user("alice")
    verifying_upload(app, "alice")
    registry = app.extensions["registry"]
    with unit_of_work(registry.sessions) as session:
        alice = get_user(session, "alice")
        with pytest.raises(RegistryError) as refused:
            refuse_verifying(session, alice, [digest_of(DATA), digest_of(b"unrelated")])
        assert refused.value.code == "BLOB_VERIFYING" and refused.value.status == 409
        assert refused.value.details == {"digests": [digest_of(DATA)]}
        refuse_verifying(session, alice, [digest_of(b"unrelated")])  # nothing of it is verifying


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_publishing_while_a_blob_is_verifying_answers_blob_verifying(app, http, make_user):
    from tests.registry.helpers import manifest_for

    _, headers = make_user("alice")
    verifying_upload(app, "alice")
    manifest = manifest_for({"weights.bin": DATA}, name="alice/model")
    response = http.put("/api/v1/artifacts/alice/model/versions/1.0.0", json={"manifest": manifest}, headers=headers)
    assert response.status_code == 409, response.json
    assert response.json["error"]["code"] == "BLOB_VERIFYING"
