"""regctl waits out an outage through one helper (regctl.api.Backoff), once: a failure that already waited the
retry budget out is not waited out again, and a batch of small blobs cut short is sent again whole."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from regctl.api import ApiClient, Backoff, OutageOutlasted
from regctl.errors import ConnectionFailed
from regctl.transfer import BlobBatchBody, _download, upload_blob_batch


def test_an_outage_already_waited_out_is_raised_at_once():
    backoff = Backoff(budget_s=60)
    started = time.monotonic()
    with pytest.raises(OutageOutlasted):
        backoff.wait_or_raise(OutageOutlasted("gone for good"))
    assert time.monotonic() - started < 0.1 and backoff.attempts == 0


def test_a_spent_budget_raises_what_the_caller_names():
    backoff = Backoff(budget_s=0)
    with pytest.raises(ConnectionFailed, match="kept failing"):
        backoff.wait_or_raise(ConnectionFailed("lost"), ConnectionFailed("the download kept failing"))


def test_a_download_does_not_wait_a_second_round_after_the_api_client_gave_up(tmp_path, monkeypatch):
    monkeypatch.setenv("REGCTL_RETRY_S", "60")
    calls = []

    class GoneRegistry:
        def download_blob(self, name, digest, start=0):
            calls.append(start)
            raise OutageOutlasted("lost the registry and it did not come back within REGCTL_RETRY_S=60 s")

    started = time.monotonic()
    with open(tmp_path / "partial", "wb") as handle, pytest.raises(OutageOutlasted):
        _download(GoneRegistry(), "alice/x", "sha256:" + "0" * 64, 10, handle, None, 0, None)
    assert calls == [0] and time.monotonic() - started < 1


class FlakyBatches(BaseHTTPRequestHandler):
    """POST /api/v1/blobs/batch: the first request is cut off halfway through its body, the next one stored."""

    bodies: list[bytes] = []

    def do_POST(self):  # noqa: N802 (the name http.server calls)
        length = int(self.headers["Content-Length"])
        if not self.bodies:
            self.bodies.append(self.rfile.read(length // 2))
            self.connection.shutdown(2)  # the registry went away mid-request
            self.close_connection = True
            return
        self.bodies.append(self.rfile.read(length))
        payload = b'{"stored": 2}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_a_batch_cut_short_is_sent_again_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("REGCTL_RETRY_S", "10")
    blobs = []
    for index, data in enumerate((b"first small file\n", b"second\n" * 1000)):
        (tmp_path / f"f{index}").write_bytes(data)
        blobs.append((f"sha256:{index:064d}", tmp_path / f"f{index}", len(data)))
    FlakyBatches.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyBatches)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = ApiClient(f"http://127.0.0.1:{server.server_port}", "rrt_test")
        api.reached = True  # the registry answered earlier in the command
        assert upload_blob_batch(api, blobs) == sum(size for _, _, size in blobs)
    finally:
        server.shutdown()
    whole = b"".join(BlobBatchBody(blobs))
    assert len(FlakyBatches.bodies) == 2 and FlakyBatches.bodies[1] == whole
