"""One conformance suite for every BlobStore backend."""

import hashlib
from pathlib import Path

import pytest

from reproreg.storage import LocalBlobStore, OffsetMismatch
from reproreg.storage.local import blob_path
from reproreg.storage.s3 import S3BlobStore


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "s3":
        server = request.getfixturevalue("moto_server")
        return S3BlobStore(server.new_bucket(), "some/prefix", client=server.client())
    return LocalBlobStore(tmp_path / "blobs")


def damage(store, digest: str, data: bytes) -> None:
    """Overwrite a committed blob's bytes behind the store's back, as a failing disk or an operator would."""
    if isinstance(store, LocalBlobStore):
        path = blob_path(store.root, digest)
        path.chmod(0o644)
        path.write_bytes(data)
        return
    if isinstance(store, S3BlobStore):
        store.client.put_object(Bucket=store.bucket, Key=store._blob_key(digest), Body=data)
        return
    raise NotImplementedError(f"no way to damage a {type(store).__name__} blob in the tests")


def commit_bytes(store, upload_id: str, data: bytes) -> str:
    store.append(upload_id, 0, [data])
    store.commit(upload_id, digest_of(data), len(data))
    return digest_of(data)


def test_append_commit_and_read_back(store):
    data = b"abc" * 100_000
    assert store.upload_offset("u1") == 0
    assert store.append("u1", 0, [data[:1000]]) == 1000
    assert store.append("u1", 1000, iter([data[1000:2000], data[2000:]])) == len(data)
    store.commit("u1", digest_of(data), len(data))
    assert store.exists(digest_of(data)) and store.size(digest_of(data)) == len(data)
    assert b"".join(store.read(digest_of(data))) == data
    assert b"".join(store.read(digest_of(data), start=299_000)) == data[299_000:]
    assert store.upload_offset("u1") == 0  # the upload is gone


def test_append_at_the_wrong_offset_is_refused(store):
    store.append("u1", 0, [b"12345"])
    with pytest.raises(OffsetMismatch) as error:
        store.append("u1", 3, [b"x"])
    assert error.value.actual == 5
    assert b"".join(store.read_upload("u1")) == b"12345"


def test_an_interrupted_append_keeps_what_arrived(store):
    def interrupted():
        yield b"first"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.append("u1", 0, interrupted())
    assert store.upload_offset("u1") == 5


def test_commit_is_idempotent_and_checks_the_size(store):
    data = b"same content"
    store.append("a", 0, [data])
    store.commit("a", digest_of(data), len(data))
    store.append("b", 0, [data])
    store.commit("b", digest_of(data), len(data))
    assert store.upload_offset("b") == 0 and store.size(digest_of(data)) == len(data)
    store.append("c", 0, [b"short"])
    with pytest.raises(ValueError):
        store.commit("c", digest_of(b"short!"), 6)
    assert not store.exists(digest_of(b"short!"))


def test_discard_and_unknown_blobs(store):
    store.append("u", 0, [b"x"])
    store.discard("u")
    assert store.upload_offset("u") == 0
    assert not store.exists(digest_of(b"nothing")) and store.size(digest_of(b"nothing")) is None
    with pytest.raises(ValueError):
        store.exists("md5:abc")
    with pytest.raises(ValueError):
        store.upload_offset("../etc")


def test_an_upload_that_never_received_a_byte_commits_as_the_empty_blob(store):
    empty = digest_of(b"")
    store.commit("neverappended", empty, 0)
    assert store.exists(empty) and store.size(empty) == 0
    assert b"".join(store.read(empty)) == b""
    assert list(store.digests()) == [empty]
    with pytest.raises(ValueError):
        store.commit("alsoneverappended", digest_of(b"x"), 1)
    assert not store.exists(digest_of(b"x"))


def test_commit_keeps_the_stored_copy_unless_told_to_replace_it(store):
    data = b"weights" * 1000
    digest = commit_bytes(store, "a", data)
    damage(store, digest, b"X" * len(data))
    store.append("b", 0, [data])
    store.commit("b", digest, len(data))  # the caller found nothing wrong: the stored copy stays
    assert b"".join(store.read(digest)) == b"X" * len(data)
    assert store.upload_offset("b") == 0

    store.append("c", 0, [data])
    store.commit("c", digest, len(data), replace=True)
    assert b"".join(store.read(digest)) == data
    assert store.upload_offset("c") == 0


def test_replacing_a_blob_leaves_an_open_reader_on_a_whole_copy(store):
    data = b"0123456789" * 300_000
    digest = commit_bytes(store, "a", data)
    damage(store, digest, b"Z" * len(data))
    reader = store.read(digest, chunk_size=1000)
    first = next(reader)
    store.append("b", 0, [data])
    store.commit("b", digest, len(data), replace=True)
    assert first + b"".join(reader) == b"Z" * len(data)  # the old copy, never a mix of the two
    assert b"".join(store.read(digest)) == data


def test_digests_walks_every_committed_blob(store):
    committed = {commit_bytes(store, f"u{index}", f"blob {index}".encode()) for index in range(50)}
    store.append("unfinished", 0, [b"not a blob yet"])
    assert sorted(store.digests()) == sorted(committed)


def test_a_quarantined_blob_is_kept_aside_and_no_longer_served(store):
    data = b"checkpoint" * 10_000
    digest = commit_bytes(store, "a", data)
    other = commit_bytes(store, "b", b"an unrelated blob")
    damage(store, digest, b"rotten" + data[6:])

    location = store.quarantine(digest)
    assert not store.exists(digest) and store.size(digest) is None
    with pytest.raises(FileNotFoundError):
        b"".join(store.read(digest))
    assert list(store.digests()) == [other]
    assert location and digest.split(":")[1] in location
    if isinstance(store, LocalBlobStore):
        assert Path(location).read_bytes() == b"rotten" + data[6:]  # kept for inspection
    else:
        assert b"".join(store.read_quarantined(location)) == b"rotten" + data[6:]
    with pytest.raises(FileNotFoundError):
        store.quarantine(digest)

    repaired = commit_bytes(store, "c", data)  # the next upload of the right bytes stores it again
    assert repaired == digest and b"".join(store.read(digest)) == data
    store.quarantine(digest)
    commit_bytes(store, "d", data)
    assert b"".join(store.read(digest)) == data  # a second quarantine does not clash with the first


def test_a_blob_set_aside_is_not_served_and_is_put_back_or_dropped(store):
    data = b"garbage candidate" * 1000
    digest = commit_bytes(store, "a", data)
    assert store.set_aside(digest_of(b"absent")) is None
    place = store.set_aside(digest)
    assert place and not store.exists(digest) and list(store.digests()) == []
    store.put_back(digest, place)
    assert b"".join(store.read(digest)) == data

    place = store.set_aside(digest)
    commit_bytes(store, "b", data)  # a concurrent upload committed its own copy meanwhile: that one stays
    store.put_back(digest, place)
    assert b"".join(store.read(digest)) == data

    place = store.set_aside(digest)
    store.drop(place)
    assert not store.exists(digest)
    with pytest.raises(ValueError):
        store.drop("/etc/passwd" if isinstance(store, LocalBlobStore) else "s3://elsewhere/key")


def test_stale_uploads_are_those_not_written_for_a_while(store):
    store.append("fresh", 0, [b"bytes"])
    assert list(store.stale_uploads(3600)) == []
    assert list(store.stale_uploads(-1)) == ["fresh"]
