"""How digests are computed: SHA-256, written ``sha256:<64 hex>``. Shared so both sides hash the same way."""

import hashlib
import queue
import threading


def format_digest(hexdigest: str) -> str:
    return "sha256:" + hexdigest


class PipelinedHasher:
    """SHA-256 on a second thread, so hashing overlaps with network and disk I/O.

    hashlib releases the GIL on large updates; a bounded queue keeps memory flat (at most ``depth`` chunks).
    ``finish()`` waits for the queued chunks and returns the plain hashlib object (whose state can be kept).
    """

    def __init__(self, initial=None, depth: int = 8):
        self._hasher = initial if initial is not None else hashlib.sha256()
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hasher.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def finish(self):
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        return self._hasher

    def hexdigest(self) -> str:
        return self.finish().hexdigest()


FINGERPRINT_EDGE = 64 * 1024


def fingerprint(size: int, head: bytes, tail: bytes) -> str:
    """A cheap identity hint: SHA-256 over the size and the first and last 64 KiB.

    Used only to choose how to upload (hash first, or hash while streaming); never to identify content.
    """
    hasher = hashlib.sha256(size.to_bytes(8, "big"))
    hasher.update(head[:FINGERPRINT_EDGE])
    hasher.update(tail[-FINGERPRINT_EDGE:] if size > FINGERPRINT_EDGE else b"")
    return format_digest(hasher.hexdigest())
