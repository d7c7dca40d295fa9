"""Blobs in object storage (S3, played by moto's server over HTTP): bytes go straight between regctl and the
bucket through presigned URLs, and nothing the registry has not hashed is ever readable under a digest."""

import base64
import hashlib
import os
import time

import pytest
import requests

from tests.factories import make_project
from tests.live import LiveRegistry, SocketMeter, logged_requests, s3_client, s3_keys, stored_blobs
from tests.s3 import PART_BYTES

pytestmark = pytest.mark.parametrize("storage", ["s3"], indirect=True)

MB = 1000 * 1000


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def api(live: LiveRegistry, token: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{live.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"},
                            **kwargs)


def start(live, token, data: bytes, digest: str | None = None) -> dict:
    response = api(live, token, "POST", "/uploads", json={"digest": digest or digest_of(data), "size": len(data)})
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["multipart"]["part_size"] == PART_BYTES
    return state


def parts_of(data: bytes) -> list[bytes]:
    return [data[start:start + PART_BYTES] for start in range(0, len(data), PART_BYTES)]


def announce(live, token, upload_id: str, parts: list[bytes]) -> dict:
    response = api(live, token, "POST", f"/uploads/{upload_id}/parts", json={"parts": [
        {"number": number, "size": len(part), "sha256": b64sha(part)} for number, part in enumerate(parts, 1)]})
    assert response.status_code == 200, response.text
    return response.json()


def put(url: str, body: bytes, checksum: str) -> None:
    response = requests.put(url, data=body, headers={"x-amz-checksum-sha256": checksum})
    assert response.status_code == 200, response.text


def nothing_readable(live, digest: str) -> None:
    assert stored_blobs(live) == []
    assert s3_keys(live, "uploads") == []
    assert s3_client(live).list_multipart_uploads(Bucket=live.env["REGISTRY_S3_BUCKET"]).get("Uploads", []) == []


def test_a_large_push_sends_its_parts_to_the_bucket_and_pull_checks_them(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=12 * MB, name="alice/resnet")
    assert alice("push", project).code == 0
    assert logged_requests(live, "PATCH", "/uploads/") == 0  # no byte of the weights went through the registry
    assert logged_requests(live, "POST", "/parts") == 1 and logged_requests(live, "POST", "/complete") == 1
    weights = (project / "weights" / "model.safetensors").read_bytes()
    key = f"{live.env['REGISTRY_S3_PREFIX']}/blobs/sha256/{hashlib.sha256(weights).hexdigest()}"
    assert key in stored_blobs(live)

    pulled = regctl_as("bob")("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out")
    assert pulled.code == 0, pulled.stderr
    assert (tmp_path / "out" / "weights" / "model.safetensors").read_bytes() == weights


def test_a_download_is_a_presigned_redirect_that_regctl_follows(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=3 * MB, name="alice/resnet")
    assert alice("push", project).code == 0
    weights = (project / "weights" / "model.safetensors").read_bytes()
    digest = digest_of(weights)
    response = requests.get(f"{live.url}/api/v1/artifacts/alice/resnet/blobs/{digest}", allow_redirects=False)
    assert response.status_code == 307, response.text
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Location"].startswith(live.env["REGISTRY_S3_ENDPOINT_URL"])
    ranged = requests.get(response.headers["Location"], headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == weights[10:20]

    pulled = regctl_as("bob")("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out")
    assert pulled.code == 0, pulled.stderr
    assert (tmp_path / "out" / "weights" / "model.safetensors").read_bytes() == weights


def test_a_blob_damaged_in_the_bucket_makes_pull_exit_2(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=3 * MB, name="alice/resnet")
    assert alice("push", project).code == 0
    weights = (project / "weights" / "model.safetensors").read_bytes()
    key = f"{live.env['REGISTRY_S3_PREFIX']}/blobs/sha256/{hashlib.sha256(weights).hexdigest()}"
    damaged = bytearray(weights)
    damaged[1_000_000] ^= 0xFF
    s3_client(live).put_object(Bucket=live.env["REGISTRY_S3_BUCKET"], Key=key, Body=bytes(damaged))

    result = regctl_as("bob")("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out")
    assert result.code == 2
    assert "weights/model.safetensors" in result.stderr
    assert not (tmp_path / "out" / "weights" / "model.safetensors").exists()

    report = live.admin_result("storage", "fsck", "--json")
    assert report.returncode == 3
    assert s3_keys(live, "quarantine") and key not in stored_blobs(live)


def test_a_damaged_part_is_refused_and_leaves_nothing_readable(live):
    token = live.create_user("alice")
    data = os.urandom(PART_BYTES + 1000)
    state = start(live, token, data)
    parts = parts_of(data)
    offer = announce(live, token, state["id"], parts)
    put(offer["parts"][0]["url"], parts[0], b64sha(parts[0]))
    damaged = b"X" + parts[1][1:]
    put(offer["parts"][1]["url"], damaged, b64sha(parts[1]))  # S3 refuses this itself; moto does not
    response = api(live, token, "POST", f"/uploads/{state['id']}/complete", json={})
    assert response.status_code == 400 and response.json()["error"]["code"] == "PART_CHECKSUM_MISMATCH"
    assert response.json()["error"]["details"]["part"] == 2
    nothing_readable(live, digest_of(data))


def test_a_wrong_whole_object_digest_is_refused_and_leaves_nothing_readable(live):
    token = live.create_user("alice")
    data = os.urandom(PART_BYTES + 10)
    claimed = digest_of(b"something else" + data[14:])
    state = start(live, token, data, claimed)
    parts = parts_of(data)
    offer = announce(live, token, state["id"], parts)
    for item, part in zip(offer["parts"], parts, strict=True):
        put(item["url"], part, b64sha(part))
    response = api(live, token, "POST", f"/uploads/{state['id']}/complete", json={})
    assert response.status_code == 400 and response.json()["error"]["code"] == "DIGEST_MISMATCH"
    nothing_readable(live, claimed)


def test_a_part_replayed_from_another_upload_is_refused(live):
    token = live.create_user("alice")
    first, second = os.urandom(PART_BYTES + 5), os.urandom(PART_BYTES + 5)
    state_a, state_b = start(live, token, first), start(live, token, second)
    parts_a, parts_b = parts_of(first), parts_of(second)
    offer_a = announce(live, token, state_a["id"], parts_a)
    offer_b = announce(live, token, state_b["id"], parts_b)
    put(offer_b["parts"][0]["url"], parts_a[0], b64sha(parts_a[0]))  # upload A's first part, replayed into B
    put(offer_b["parts"][1]["url"], parts_b[1], b64sha(parts_b[1]))
    response = api(live, token, "POST", f"/uploads/{state_b['id']}/complete", json={})
    assert response.status_code == 400 and response.json()["error"]["code"] == "PART_CHECKSUM_MISMATCH"
    for item, part in zip(offer_a["parts"], parts_a, strict=True):
        put(item["url"], part, b64sha(part))
    assert api(live, token, "POST", f"/uploads/{state_a['id']}/complete", json={}).status_code == 200
    assert stored_blobs(live) == [f"{live.env['REGISTRY_S3_PREFIX']}/blobs/sha256/{digest_of(first)[7:]}"]


def test_an_upload_completed_twice_is_refused_the_second_time(live):
    token = live.create_user("alice")
    data = os.urandom(PART_BYTES + 1)
    state = start(live, token, data)
    offer = announce(live, token, state["id"], parts_of(data))
    for item, part in zip(offer["parts"], parts_of(data), strict=True):
        put(item["url"], part, b64sha(part))
    first = api(live, token, "POST", f"/uploads/{state['id']}/complete", json={})
    assert first.status_code == 200 and first.json()["complete"]
    again = api(live, token, "POST", f"/uploads/{state['id']}/complete", json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "UPLOAD_ALREADY_COMPLETE"
    more = api(live, token, "POST", f"/uploads/{state['id']}/parts",
               json={"parts": [{"number": 1, "size": PART_BYTES, "sha256": b64sha(data[:PART_BYTES])}]})
    assert more.status_code == 409 and more.json()["error"]["code"] == "UPLOAD_ALREADY_COMPLETE"


@pytest.fixture
def short_urls(monkeypatch):
    """URLs that expire after one second."""
    monkeypatch.setenv("REGISTRY_PRESIGN_EXPIRY_S", "1")


def test_a_part_sent_after_its_url_expired_is_refused(short_urls, live):
    token = live.create_user("alice")
    data = os.urandom(PART_BYTES + 3)
    state = start(live, token, data)
    parts = parts_of(data)
    offer = announce(live, token, state["id"], parts)
    put(offer["parts"][0]["url"], parts[0], b64sha(parts[0]))
    time.sleep(7)  # past the expiry and the allowance for clock skew; S3 would refuse the PUT, moto does not
    put(offer["parts"][1]["url"], parts[1], b64sha(parts[1]))
    response = api(live, token, "POST", f"/uploads/{state['id']}/complete", json={})
    assert response.status_code == 403 and response.json()["error"]["code"] == "PRESIGNED_URL_EXPIRED"
    nothing_readable(live, digest_of(data))


@pytest.fixture
def verify_in_job(monkeypatch):
    """Every multipart upload is verified by a job after completion (not only those of 256 MiB and more)."""
    monkeypatch.setenv("REGISTRY_S3_VERIFY_IN_JOB_BYTES", "1")


def upload_state(live, token, upload_id: str) -> dict:
    response = api(live, token, "GET", f"/uploads/{upload_id}")
    assert response.status_code == 200, response.text
    return response.json()


def answered(live, path_part: str, status: int) -> int:
    """How many requests to a path fragment the server answered with ``status`` (its access log colours some)."""
    live._log.flush()
    return sum(1 for line in live.log_path.read_text(errors="replace").splitlines()
               if path_part in line and f'" {status} ' in line)


def poll_until_settled(live, token, upload_id: str, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while (state := upload_state(live, token, upload_id))["status"] == "verifying":
        assert time.monotonic() < deadline, "the upload is still verifying"
        time.sleep(0.1)
    return state


def test_a_big_upload_is_verified_by_a_job_and_the_push_goes_on_once_it_is_committed(verify_in_job, live, regctl_as,
                                                                                      tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=12 * MB, name="alice/resnet")
    pushed = alice("push", project)
    assert pushed.code == 0, pushed.stderr
    assert answered(live, "/complete", 202) == 1  # answered at once: verifying
    assert logged_requests(live, "GET", "/uploads/") >= 1  # regctl polled the upload until it was committed
    weights = (project / "weights" / "model.safetensors").read_bytes()
    assert f"{live.env['REGISTRY_S3_PREFIX']}/blobs/sha256/{digest_of(weights)[7:]}" in stored_blobs(live)
    pulled = regctl_as("bob")("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out")
    assert pulled.code == 0, pulled.stderr
    assert (tmp_path / "out" / "weights" / "model.safetensors").read_bytes() == weights


def test_a_wrong_whole_object_digest_found_by_the_job_leaves_nothing_readable(verify_in_job, live):
    token = live.create_user("alice")
    data = os.urandom(PART_BYTES + 10)
    claimed = digest_of(b"something else" + data[14:])
    state = start(live, token, data, claimed)
    parts = parts_of(data)
    offer = announce(live, token, state["id"], parts)
    for item, part in zip(offer["parts"], parts, strict=True):
        put(item["url"], part, b64sha(part))
    response = api(live, token, "POST", f"/uploads/{state['id']}/complete", json={})
    assert response.status_code == 202 and response.json()["status"] == "verifying", response.text
    settled = poll_until_settled(live, token, state["id"])
    assert settled["status"] == "failed" and settled["error"]["code"] == "DIGEST_MISMATCH"
    assert settled["error"]["details"] == {"expected": claimed, "actual": digest_of(data)}
    nothing_readable(live, claimed)

    from regctl.api import ApiClient
    from regctl.errors import EXIT_INTEGRITY, RegctlError
    from regctl.transfer import wait_until_verified

    with pytest.raises(RegctlError) as raised:  # what regctl makes of it: an integrity failure
        wait_until_verified(ApiClient(live.url, token), {**state, "status": "verifying"}, report=lambda _: None)
    assert raised.value.code == "DIGEST_MISMATCH" and raised.value.exit_code == EXIT_INTEGRITY


def stall_in_verification(live, token, content: bytes, digest: str, lease_s: float) -> str:
    """An upload of ``content`` declared as ``digest``, assembled in the bucket and left verifying under the lease
    of a process that crashed (it expires in ``lease_s`` seconds): the state a registry killed mid-verification
    leaves behind. Returns the upload's id."""
    from datetime import timedelta

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from reproreg.models import MultipartUpload
    from reproreg.models.base import utcnow

    state = start(live, token, content, digest)
    parts = parts_of(content)
    offer = announce(live, token, state["id"], parts)
    for item, part in zip(offer["parts"], parts, strict=True):
        put(item["url"], part, b64sha(part))
    engine = create_engine(live.database_url)
    try:
        with Session(engine) as session:
            record = session.get(MultipartUpload, state["id"])
            record.status, record.lease_owner = "verifying", "crashed-process"
            record.lease_expires_at = utcnow() + timedelta(seconds=lease_s)
            storage_id = record.storage_id
            session.commit()
    finally:
        engine.dispose()
    client, bucket = s3_client(live), live.env["REGISTRY_S3_BUCKET"]
    key = f"{live.env['REGISTRY_S3_PREFIX']}/uploads/{state['id']}/{0:020d}"
    stored = client.list_parts(Bucket=bucket, Key=key, UploadId=storage_id)["Parts"]
    client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=storage_id, MultipartUpload={"Parts": [
        {"PartNumber": part["PartNumber"], "ETag": part["ETag"]} for part in stored]})
    return state["id"]


def test_a_verification_whose_process_died_is_taken_up_by_the_next_poll(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=7 * MB, name="alice/resnet")
    weights = (project / "weights" / "model.safetensors").read_bytes()
    upload_id = stall_in_verification(live, alice.env["REGCTL_TOKEN"], weights, digest_of(weights), lease_s=3)
    token = alice.env["REGCTL_TOKEN"]
    assert upload_state(live, token, upload_id)["status"] == "verifying"  # the lease is live: nobody takes it
    time.sleep(0.5)
    assert upload_state(live, token, upload_id)["status"] == "verifying"
    assert stored_blobs(live) == []

    pushed = alice("push", project)  # resumes the same upload: waits, and its polls take it up once the lease expires
    assert pushed.code == 0, pushed.stderr
    assert "verifying" in pushed.stderr
    assert logged_requests(live, "POST", "/parts") == 1  # only the stalled upload's own parts: nothing sent again
    assert upload_state(live, token, upload_id)["status"] == "complete"
    assert f"{live.env['REGISTRY_S3_PREFIX']}/blobs/sha256/{digest_of(weights)[7:]}" in stored_blobs(live)


def test_a_push_waiting_on_a_verification_that_finds_other_bytes_exits_2(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=7 * MB, name="alice/resnet")
    weights = (project / "weights" / "model.safetensors").read_bytes()
    other = bytes(reversed(weights))  # the same size, other bytes, claimed to be the weights
    stall_in_verification(live, alice.env["REGCTL_TOKEN"], other, digest_of(weights), lease_s=2)

    pushed = alice("push", project)
    assert pushed.code == 2, pushed.stderr
    assert "hash to" in pushed.stderr and digest_of(weights) in pushed.stderr
    assert f"{live.env['REGISTRY_S3_PREFIX']}/blobs/sha256/{digest_of(weights)[7:]}" not in stored_blobs(live)
    assert s3_keys(live, "uploads") == []
    assert s3_client(live).list_multipart_uploads(Bucket=live.env["REGISTRY_S3_BUCKET"]).get("Uploads", []) == []
    assert regctl_as("bob")("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out").code == 7


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_1_gib_push_and_pull_keep_the_registry_flat_and_send_no_blob_bytes_through_it(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=1 << 30, name="alice/big")
    cpu_before = cpu_seconds(live.process.pid)
    store_port = int(live.env["REGISTRY_S3_ENDPOINT_URL"].rpartition(":")[2])
    meter = SocketMeter(live.process.pid, live.port, store_port).start()  # rchar/wchar do not count sockets
    before = meter.totals()
    pushed = alice("push", project, "--json")
    assert pushed.code == 0, pushed.stderr
    assert logged_requests(live, "PATCH", "/uploads/") == 0
    after_push = meter.totals()
    pulled = regctl_as("bob")("pull", "alice/big", "-o", tmp_path / "out", "--json")
    assert pulled.code == 0, pulled.stderr
    after_pull = meter.totals()
    meter.stop()
    moved = {key: (after_push[key] - before[key], after_pull[key] - after_push[key]) for key in before}
    print(f"registry socket bytes (push, pull): {moved}")
    assert moved["clients_received_bytes"][0] < 10 * MB, "blob bytes came to the registry from regctl"
    assert moved["clients_sent_bytes"][1] < 10 * MB, "the registry sent blob bytes to regctl on a pull"
    # the one read of the object that verifying it costs, from the store; nothing of it on the pull
    # (sampled counters: a connection's last moments before it closes may be missed, hence 90%)
    assert moved["store_received_bytes"][0] > 0.9 * (1 << 30) and moved["store_received_bytes"][1] < 10 * MB
    server_peak = live.peak_rss_bytes()
    print(f"peak RSS: server {server_peak / 1e6:.0f} MB, push {pushed.peak_rss_bytes / 1e6:.0f} MB, pull "
          f"{pulled.peak_rss_bytes / 1e6:.0f} MB; server CPU {cpu_seconds(live.process.pid) - cpu_before:.1f} s")
    assert server_peak < 200e6 and pushed.peak_rss_bytes < 200e6 and pulled.peak_rss_bytes < 200e6
