"""Presigned transfers: regctl never sends its registry token to the object store, even one on the same host,
and checks what the store sends as it checks what the registry sends."""

import base64
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from regctl.api import ApiClient, StoreUnavailable
from regctl.cache import BlobCache
from regctl.errors import IntegrityError
from regctl.transfer import FileRegion, fetch_blob

DATA = bytes(range(256)) * 4096  # 1 MiB
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
TOKEN = "regtok_secret_value"


class Recorder:
    def __init__(self, handler):
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                          "body": body})
                handler(self, recorder)

            do_GET = do_PUT = _record

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def serve_bytes(data: bytes):
    def handler(request, recorder):
        if "expired" in request.path:
            request.send_response(403)
            request.end_headers()
            request.wfile.write(b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
            return
        start = 0
        if request.headers.get("Range"):
            start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
        request.send_response(206 if start else 200)
        request.send_header("Content-Length", str(len(data) - start))
        request.end_headers()
        request.wfile.write(data[start:])
    return handler


@pytest.fixture
def store():
    recorder = Recorder(serve_bytes(DATA))
    yield recorder
    recorder.close()


def registry_redirecting_to(targets: list[str]):
    """A registry stand-in that answers each blob download with a 307 to the next of ``targets``."""
    def handler(request, recorder):
        request.send_response(307)
        request.send_header("Location", targets[min(len(recorder.requests), len(targets)) - 1])
        request.send_header("Cache-Control", "private, no-store")
        request.send_header("Content-Length", "0")
        request.end_headers()
    return Recorder(handler)


def test_a_redirected_download_never_carries_the_registry_token(store, tmp_path):
    registry = registry_redirecting_to([f"{store.url}/bucket/blob?X-Amz-Signature=abc"])
    try:
        api = ApiClient(registry.url, TOKEN)
        path, downloaded = fetch_blob(api, BlobCache(tmp_path / "cache"), "alice/model", "w.bin", DIGEST, len(DATA))
    finally:
        registry.close()
    assert path.read_bytes() == DATA and downloaded == len(DATA)
    assert registry.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert store.requests and all("Authorization" not in r["headers"] for r in store.requests)
    assert all(TOKEN not in str(r) for r in store.requests)


def test_an_expired_url_is_reported_as_retryable_and_a_range_goes_to_the_store(store):
    registry = registry_redirecting_to([f"{store.url}/expired", f"{store.url}/bucket/blob?fresh"])
    try:
        api = ApiClient(registry.url, TOKEN)
        with pytest.raises(StoreUnavailable):  # what the download loop waits out, asking the registry again
            api.download_blob("alice/model", DIGEST, start=1000)
        response = api.download_blob("alice/model", DIGEST, start=1000)
        assert response.status_code == 206 and response.content == DATA[1000:]
    finally:
        registry.close()
    assert [r["headers"].get("Range") for r in store.requests] == ["bytes=1000-", "bytes=1000-"]


def test_a_download_through_an_expired_url_resumes_with_a_fresh_one(store, tmp_path, monkeypatch):
    monkeypatch.setenv("REGCTL_RETRY_S", "10")
    registry = registry_redirecting_to([f"{store.url}/expired", f"{store.url}/bucket/blob?fresh"])
    try:
        api = ApiClient(registry.url, TOKEN)
        path, _ = fetch_blob(api, BlobCache(tmp_path / "cache"), "alice/model", "w.bin", DIGEST, len(DATA))
    finally:
        registry.close()
    assert path.read_bytes() == DATA
    assert len(registry.requests) == 2
    assert [r["path"] for r in store.requests] == ["/expired", "/bucket/blob?fresh"]


def test_bytes_from_the_store_that_do_not_match_the_digest_are_refused(tmp_path):
    wrong = Recorder(serve_bytes(b"x" * len(DATA)))
    registry = registry_redirecting_to([f"{wrong.url}/bucket/blob"])
    try:
        api = ApiClient(registry.url, TOKEN)
        with pytest.raises(IntegrityError) as error:
            fetch_blob(api, BlobCache(tmp_path / "cache"), "alice/model", "w.bin", DIGEST, len(DATA))
    finally:
        registry.close()
        wrong.close()
    assert error.value.exit_code == 2 and error.value.code == "DIGEST_MISMATCH"
    assert not any((tmp_path / "cache" / "blobs").rglob("*")) if (tmp_path / "cache" / "blobs").exists() else True


def test_a_part_goes_to_the_store_with_its_checksum_and_without_the_token(store, tmp_path):
    file = tmp_path / "part.bin"
    file.write_bytes(DATA)
    checksum = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
    ApiClient("http://127.0.0.1:9", TOKEN).put_part(f"{store.url}/bucket/key?partNumber=1&X-Amz-Signature=abc",
                                                     FileRegion(file, 0, len(DATA)), checksum)
    (put,) = store.requests
    assert put["method"] == "PUT" and put["body"] == DATA
    assert put["headers"]["x-amz-checksum-sha256"] == checksum
    assert "Authorization" not in put["headers"]
