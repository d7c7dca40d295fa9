"""Moving many files and surviving a registry restart, as a careless user (or a hostile client) meets them:
a version of more than 10,000 files, a batch of small blobs that lies about its content, and an upload in flight
while the registry is killed and started again."""

import filecmp
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from reproreg_schemas.api import BATCH_MAX_BLOB_BYTES, MAX_FILES_PER_VERSION
from tests.e2e.conftest import live, regctl_as, storage  # noqa: F401  (a registry process and regctl on each database)
from tests.factories import author_file, make_project, write_author_file
from tests.live import BIN, logged_requests, stored_blobs

MiB = 1 << 20
EMPTY = "sha256:" + hashlib.sha256(b"").hexdigest()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def many_files_project(folder: Path, count: int, name: str) -> Path:
    """An author folder whose data/ holds ``count`` small files, each with its own content."""
    make_project(folder, name=name)
    for index in range(count):
        shard = folder / "data" / f"{index // 1000:03d}"
        if index % 1000 == 0:
            shard.mkdir(parents=True)
        (shard / f"{index:06d}.txt").write_bytes(f"file {index}\n".encode() * 8)
    document = author_file(name=name)
    document["files"] = [*document["files"], "data"]
    write_author_file(folder, document)
    return folder


@pytest.mark.slow
def test_a_version_of_10001_files_is_pushed_and_pulled_back_intact(live, regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    project = many_files_project(tmp_path / "project", 10_001, "alice/many")

    pushed = alice("push", project, "--json")
    assert pushed.code == 0, pushed.stderr
    assert pushed.json()["files"] == 10_001 + 4
    assert pushed.json()["blobs_uploaded"] == 10_001 + 4
    assert logged_requests(live, "POST", "/api/v1/blobs/batch") < 100  # many files per request

    pulled = alice("pull", "alice/many@1.0.0", "-o", tmp_path / "out", "--json")
    assert pulled.code == 0, pulled.stderr
    assert len(pulled.json()["files"]) == 10_001 + 4
    for index in (0, 4_242, 10_000):
        relative = Path("data") / f"{index // 1000:03d}" / f"{index:06d}.txt"
        assert filecmp.cmp(project / relative, tmp_path / "out" / relative, shallow=False)
    assert sum(1 for p in (tmp_path / "out" / "data").rglob("*") if p.is_file()) == 10_001


def test_a_manifest_of_more_files_than_the_limit_is_refused_with_a_clear_error(live):  # noqa: F811
    token = live.create_user("alice")
    manifest = {**author_file(name="alice/huge"), "manifest_version": 1,
                "files": [{"path": f"d/{index:06d}", "size": 0, "sha256": EMPTY}
                          for index in range(MAX_FILES_PER_VERSION + 1)]}
    manifest.pop("release")
    manifest["training"].pop("config")
    response = requests.put(f"{live.url}/api/v1/artifacts/alice/huge/versions/1.0.0", json={"manifest": manifest},
                            headers={"Authorization": f"Bearer {token}"}, timeout=120)
    assert response.status_code == 422, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert f"at most {MAX_FILES_PER_VERSION} files" in error["details"]["problems"]["manifest"][0]
    assert requests.get(f"{live.url}/api/v1/artifacts/alice/huge", timeout=10).status_code == 404


def _frames(*blobs: tuple[str, bytes]) -> bytes:
    return b"".join(f"{digest} {len(data)}\n".encode() + data for digest, data in blobs)


def _post_batch(registry, token: str | None, body: bytes) -> requests.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(f"{registry.url}/api/v1/blobs/batch", data=body, headers=headers, timeout=30)


def test_a_batch_with_one_lying_blob_stores_none_of_its_blobs(live):  # noqa: F811
    token = live.create_user("mallory")
    honest, other, lie = b"honest bytes\n", b"", b"these bytes are not what the digest says\n"
    body = _frames((digest_of(honest), honest), (digest_of(other), other), (digest_of(b"something else"), lie))

    refused = _post_batch(live, token, body)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "DIGEST_MISMATCH"
    assert stored_blobs(live) == []
    assert not any((live.blob_dir / "uploads").iterdir())
    missing = requests.post(f"{live.url}/api/v1/blobs/missing", json={"digests": [digest_of(honest), EMPTY]},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["missing"]
    assert missing == [digest_of(honest), EMPTY]

    accepted = _post_batch(live, token, _frames((digest_of(honest), honest), (EMPTY, b"")))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"stored": [digest_of(honest), EMPTY], "bytes": len(honest)}
    assert len(stored_blobs(live)) == 2


@pytest.mark.parametrize("body, status, code", [
    (b"sha256:" + b"0" * 64 + b" 10\nshort", 400, "BAD_REQUEST"),  # the body ends inside a blob
    (b"not a frame header at all\n", 400, "BAD_REQUEST"),
    (b"sha256:" + b"0" * 64 + b" -1\n", 400, "BAD_REQUEST"),
    (b"sha256:" + b"0" * 64 + f" {BATCH_MAX_BLOB_BYTES + 1}\n".encode(), 413, "PAYLOAD_TOO_LARGE"),
    (b"", 400, "BAD_REQUEST"),
], ids=["truncated", "garbage", "negative-size", "blob-too-large", "empty"])
def test_a_malformed_batch_is_refused_with_the_error_envelope_and_stores_nothing(live, body, status, code):  # noqa: F811
    token = live.create_user("mallory")
    response = _post_batch(live, token, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert stored_blobs(live) == []
    assert not any((live.blob_dir / "uploads").iterdir())


def test_a_batch_needs_a_token(live):  # noqa: F811
    data = b"anonymous bytes"
    response = _post_batch(live, None, _frames((digest_of(data), data)))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert stored_blobs(live) == []


def _upload_in_progress(registry, at_least: int, size: int, regctl: subprocess.Popen) -> Path:
    """The upload file of the large blob once it holds ``at_least`` bytes (the registry is then frozen)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert regctl.poll() is None, "regctl finished before the registry could be interrupted"
        for upload in (registry.blob_dir / "uploads").iterdir():
            try:
                if upload.stat().st_size >= at_least:
                    os.kill(registry.process.pid, signal.SIGSTOP)  # no byte more until it is killed
                    stored = upload.stat().st_size
                    assert stored < size, "the upload finished before the registry was stopped"
                    return upload
            except FileNotFoundError:
                continue
        time.sleep(0.005)
    raise AssertionError("the large upload never started")


def test_an_upload_survives_the_registry_being_killed_and_restarted_mid_transfer(live, regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    size = 96 * MiB
    project = make_project(tmp_path / "project", weights_size=size, name="alice/big")
    weights = project / "weights" / "model.safetensors"

    process = subprocess.Popen([BIN / "regctl", "push", project, "--json"], env=alice.env, cwd=alice.home,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        upload = _upload_in_progress(live, 24 * MiB, size, process)
        stored_when_killed = upload.stat().st_size
        live.restart()
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "retrying" in stderr
    assert logged_requests(live, "GET", "/api/v1/uploads/") >= 1  # asked how far the upload got
    result = json.loads(stdout)
    # resumed from the registry's offset, not sent again from the start
    assert result["bytes_uploaded"] < result["bytes_total"] + stored_when_killed

    pulled = alice("pull", "alice/big@1.0.0", "-o", tmp_path / "out")
    assert pulled.code == 0, pulled.stderr
    assert filecmp.cmp(weights, tmp_path / "out" / "weights" / "model.safetensors", shallow=False)


def test_without_retries_a_killed_registry_is_reported_in_one_line(live, regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    size = 96 * MiB
    project = make_project(tmp_path / "project", weights_size=size, name="alice/big")
    process = subprocess.Popen([BIN / "regctl", "push", project], env={**alice.env, "REGCTL_RETRY_S": "0"},
                               cwd=alice.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _upload_in_progress(live, 8 * MiB, size, process)
        live.process.kill()
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        live.restart()  # for the fixture's teardown
    assert process.returncode == 5, stderr
    assert stderr.count("\n") == 1 and "run the same command again to resume" in stderr
    assert "Traceback" not in stderr

