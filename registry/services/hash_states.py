"""SHA-256 states of uploads in progress, so each byte is hashed once as it streams in.

A state is only trusted when its offset equals the upload's stored offset; otherwise (another process took a
chunk, the server restarted, a write failed) the stored prefix is hashed again from storage.
"""

import hashlib
import threading
from collections import OrderedDict


class HashStates:
    def __init__(self, capacity: int = 256):
        self._states: OrderedDict[str, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def take(self, upload_id: str, offset: int, read_prefix) -> "hashlib._Hash":
        """A hasher that has consumed exactly the first ``offset`` bytes of the upload."""
        with self._lock:
            state = self._states.pop(upload_id, None)
        if state is not None and state[0] == offset:
            return state[1]
        hasher = hashlib.sha256()
        if offset:
            for chunk in read_prefix():
                hasher.update(chunk)
        return hasher

    def put(self, upload_id: str, offset: int, hasher) -> None:
        with self._lock:
            self._states[upload_id] = (offset, hasher)
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)

    def drop(self, upload_id: str) -> None:
        with self._lock:
            self._states.pop(upload_id, None)
