"""One conformance suite for every BlobStore backend."""

import hashlib

import pytest

from registry.storage import LocalBlobStore, OffsetMismatch


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local"])
def store(request, tmp_path):
    return LocalBlobStore(tmp_path / "blobs")


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
