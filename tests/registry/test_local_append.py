"""Appending to an upload in the local store: the bytes are written on a second thread while the next ones
arrive, and the file always ends up holding exactly the chunks that were taken."""

import threading
import time

import pytest

from reproreg.storage import LocalBlobStore
from reproreg.storage.local import WRITE_BEHIND


@pytest.fixture
def store(tmp_path):
    return LocalBlobStore(tmp_path / "blobs")


def held(store, upload_id) -> bytes:
    return b"".join(store.read_upload(upload_id))


def test_chunks_are_appended_in_order_and_the_new_offset_returned(store):
    chunks = [bytes([n]) * (1000 + n) for n in range(50)]
    assert store.append("u1", 0, iter(chunks)) == sum(map(len, chunks))
    assert store.append("u1", sum(map(len, chunks)), [b"tail"]) == sum(map(len, chunks)) + 4
    assert held(store, "u1") == b"".join(chunks) + b"tail"


def test_a_source_that_fails_leaves_every_chunk_taken_before_it_on_disk(store):
    class Gone(Exception):
        pass

    def source():
        for n in range(20):
            yield bytes([n]) * 4096
        raise Gone()

    with pytest.raises(Gone):
        store.append("u1", 0, source())
    assert held(store, "u1") == b"".join(bytes([n]) * 4096 for n in range(20))
    assert store.upload_offset("u1") == 20 * 4096


def test_a_write_error_is_raised_in_the_caller(store):
    with pytest.raises(TypeError):
        store.append("u1", 0, [b"good", object(), b"never"])
    assert held(store, "u1") == b"good"


def test_the_source_is_read_ahead_of_the_disk_by_a_bounded_number_of_chunks(store, monkeypatch):
    """Receiving overlaps with writing, and memory stays flat: while the writer is stuck, at most WRITE_BEHIND chunks
    wait for it, besides the one in its hands and the one being handed over."""
    import reproreg.storage.local as local

    gate = threading.Event()
    real_write = local._write_all

    def stuck_write(fd, chunk):
        gate.wait(10)
        real_write(fd, chunk)

    monkeypatch.setattr(local, "_write_all", stuck_write)
    taken: list[int] = []
    taken_while_stuck: list[int] = []

    def unstick():
        time.sleep(0.5)
        taken_while_stuck.append(len(taken))
        gate.set()

    def source():
        for n in range(WRITE_BEHIND + 10):
            taken.append(n)
            yield b"x" * 10

    threading.Thread(target=unstick).start()
    assert store.append("u1", 0, source()) == (WRITE_BEHIND + 10) * 10
    assert taken_while_stuck == [WRITE_BEHIND + 2]
    assert held(store, "u1") == b"x" * (WRITE_BEHIND + 10) * 10
