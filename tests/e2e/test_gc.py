"""registry storage gc and fsck against a live registry, on both storage backends."""

import hashlib
import json
import subprocess
import threading
import time

import pytest
import requests

from tests.factories import make_project
from tests.live import BIN, s3_client, stored_blobs, uses_s3

pytestmark = pytest.mark.parametrize("storage", ["local", "s3"], indirect=True)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def upload_unreferenced(live, token: str, data: bytes) -> str:
    """Upload a blob through the API and never publish a version that uses it."""
    response = requests.post(f"{live.url}/api/v1/blobs/batch", data=f"{digest_of(data)} {len(data)}\n".encode() + data,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.text
    return digest_of(data)


def blob_key_or_path(live, digest: str):
    hexdigest = digest.removeprefix("sha256:")
    if uses_s3(live):
        return f"{live.env['REGISTRY_S3_PREFIX']}/blobs/sha256/{hexdigest}"
    return live.blob_dir / "blobs" / "sha256" / hexdigest[:2] / hexdigest


def damage(live, digest: str) -> None:
    target = blob_key_or_path(live, digest)
    if uses_s3(live):
        s3_client(live).put_object(Bucket=live.env["REGISTRY_S3_BUCKET"], Key=target, Body=b"rotten bytes")
    else:
        target.chmod(0o644)
        target.write_bytes(b"rotten bytes")


def gc(live, *args: str) -> dict:
    return json.loads(live.admin("storage", "gc", "--json", *args))


def test_gc_deletes_only_what_no_version_references(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    assert alice("push", make_project(tmp_path / "p", weights_size=2000, name="alice/kept")).code == 0
    token = live.create_user("bob")
    garbage = upload_unreferenced(live, token, b"never published")
    kept = set(stored_blobs(live))

    assert gc(live)["blobs"] == []  # within the default grace of a day
    time.sleep(1.1)
    dry = gc(live, "--grace", "1s", "--dry-run")
    assert dry["blobs"] == [garbage] and blob_key_or_path(live, garbage) in stored_blobs(live)
    done = gc(live, "--grace", "1s")
    assert done["blobs"] == [garbage]
    assert set(stored_blobs(live)) == kept - {blob_key_or_path(live, garbage)}
    assert regctl_as("carol")("pull", "alice/kept@1.0.0", "-o", tmp_path / "out").code == 0
    assert gc(live, "--grace", "1s")["blobs"] == []


def test_gc_racing_20_pushes_leaves_every_published_version_pullable(live, regctl_as, tmp_path):
    token = live.create_user("mallory")
    garbage = [upload_unreferenced(live, token, f"garbage {index}".encode()) for index in range(10)]
    time.sleep(3.1)
    pushers = [regctl_as(f"user{index}") for index in range(4)]
    projects = [make_project(tmp_path / f"p{index}", weights_size=3000 + index, seed=index,
                             name=f"user{index % 4}/model{index}") for index in range(20)]
    stop = threading.Event()
    runs = []

    def collect():
        while not stop.is_set():
            runs.append(subprocess.run([BIN / "registry", "storage", "gc", "--grace", "3s", "--json"], env=live.env,
                                       capture_output=True, text=True))

    collector = threading.Thread(target=collect)
    collector.start()
    results = {}

    def push(index):
        results[index] = pushers[index % 4]("push", projects[index])

    threads = [threading.Thread(target=push, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    collector.join()
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs if run.returncode]
    deleted = {digest for run in runs for digest in json.loads(run.stdout)["blobs"]}
    assert set(garbage) <= deleted
    reader = regctl_as("reader")
    for index, result in results.items():
        assert result.code == 0, result.stderr
        pulled = reader("pull", f"user{index % 4}/model{index}@1.0.0", "-o", tmp_path / f"out{index}")
        assert pulled.code == 0, pulled.stderr


def test_fsck_finds_every_damaged_blob_and_a_sample_checks_only_its_share(live, tmp_path):
    token = live.create_user("alice")
    digests = [upload_unreferenced(live, token, f"blob {index}".encode() * 100) for index in range(12)]
    damaged = digests[::2]
    for digest in damaged:
        damage(live, digest)

    sampled = subprocess.run([BIN / "registry", "storage", "fsck", "--json", "--dry-run", "--sample", "5"],
                             env=live.env, capture_output=True, text=True)
    assert json.loads(sampled.stdout)["checked"] == 5
    full = subprocess.run([BIN / "registry", "storage", "fsck", "--json"], env=live.env, capture_output=True,
                          text=True)
    assert full.returncode == 3
    report = json.loads(full.stdout)
    assert sorted(entry["digest"] for entry in report["damaged"]) == sorted(damaged)
    assert set(stored_blobs(live)) == {blob_key_or_path(live, digest) for digest in digests if digest not in damaged}
