"""The embedded executor and the Celery worker run jobs with what they are given: their home (signing key and
cache) and the environment their evaluations start from. Two of them in one process keep apart, and neither
writes os.environ."""

import json
import os
import sys
import time
from pathlib import Path

from regctl import keys
from regctl.api import ApiClient
from reproreg_schemas.jobs import VERIFY_TASK, is_integrity_failure
from reproreg_worker.celery_consumer import build_worker_app, worker_identity
from reproreg_worker.embedded import create_executor
from reproreg_worker.runner import ensure_key, run_job

BIN = str(Path(sys.executable).parent)


def wait_for_job(api: ApiClient, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = api.get_job(job_id)
        if job["state"] in ("succeeded", "failed", "error"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {api.get_job(job_id)}")


def recorded(api: ApiClient, job: dict) -> dict:
    return next(v for v in api.verifications(job["name"], job["digest"]) if v["id"] == job["verification_id"])


def key_id_in(home: Path, url: str) -> str:
    [meta] = (home / "keys").glob("*.json")
    assert json.loads(meta.read_text())["url"] == url
    return json.loads(meta.read_text())["key_id"]


def keyed_worker(served, account, tmp_path):
    """Reference worker "a" with its signing key registered, evaluating with a bare PATH."""
    identity = worker_identity(url=served, token=account("worker-a", worker=True), gpu=None, name="a",
                               home=tmp_path / "home", heartbeat_s=1, environment={"PATH": "/usr/bin:/bin"})
    ensure_key(identity)
    return identity


def test_two_workers_in_one_process_keep_their_own_home_key_and_evaluation_path(served, author, account, tmp_path):
    environ_before = dict(os.environ)
    first_job = author.request_job("demo/env", "1.0.0")
    second_job = author.request_job("demo/env", "1.0.0")

    embedded = create_executor(url=served, token=account("worker-a", worker=True), home=tmp_path / "home-a",
                               name="a", environment={"PATH": "/marker-a:/usr/bin:/bin", "LANG": "C.UTF-8"},
                               poll_interval_s=3600)
    embedded.start()
    try:
        embedded.dispatch(first_job["id"], "cpu", 60)
        first = wait_for_job(author, first_job["id"])
    finally:
        embedded.stop()

    identity = worker_identity(url=served, token=account("worker-b", worker=True), gpu=None, name="b",
                               home=tmp_path / "home-b", heartbeat_s=1, environment={"PATH": "/marker-b:/bin"})
    ensure_key(identity)
    consumer = build_worker_app("redis://127.0.0.1:6379/0", "unused-", identity)
    assert consumer.tasks[VERIFY_TASK](second_job["id"]) == "recorded"  # the task, run here as a worker runs it
    second = author.get_job(second_job["id"])

    assert (first["state"], first["worker"]) == ("succeeded", "worker-a/a")
    assert (second["state"], second["worker"]) == ("succeeded", "worker-b/b")
    first_output = recorded(author, first)["report"]["runs"][0]["stdout_tail"]
    second_output = recorded(author, second)["report"]["runs"][0]["stdout_tail"]
    assert f"PATH={BIN}:/marker-a:/usr/bin:/bin\n" in first_output
    assert f"PATH={BIN}:/marker-b:/bin\n" in second_output
    if sys.prefix != sys.base_prefix:
        assert f"VIRTUAL_ENV={sys.prefix}\n" in first_output and f"VIRTUAL_ENV={sys.prefix}\n" in second_output

    # each signed with the key kept in its own home, and none in regctl's own key folder
    assert recorded(author, first)["key_id"] == key_id_in(tmp_path / "home-a", served)
    assert recorded(author, second)["key_id"] == key_id_in(tmp_path / "home-b", served)
    assert key_id_in(tmp_path / "home-a", served) != key_id_in(tmp_path / "home-b", served)
    assert not keys.has_key(ApiClient(served))
    assert dict(os.environ) == environ_before


def test_a_job_leased_by_another_worker_is_skipped(served, author, account, tmp_path):
    job = author.request_job("demo/env", "1.0.0")
    token = account("worker-a", worker=True)
    ApiClient(served, token).lease_job(job["id"], "elsewhere", ["cpu"], "cpu=test")
    identity = worker_identity(url=served, token=token, gpu=None, name="late", home=tmp_path / "home",
                               heartbeat_s=1, environment={"PATH": "/bin"})
    consumer = build_worker_app("redis://127.0.0.1:6379/0", "unused-", identity)
    assert consumer.tasks[VERIFY_TASK](job["id"]) == "skipped"
    assert author.get_job(job["id"])["worker"] == "worker-a/elsewhere"


def test_a_job_whose_files_fail_their_hash_check_is_an_integrity_error(app, served, author, account, tmp_path):
    from reproreg.storage.local import blob_path

    version = author.get_version("demo/env", "1.0.0")
    weights = next(f for f in version["manifest"]["files"] if f["path"].startswith("weights/"))
    stored = blob_path(app.extensions["registry"].settings.blob_dir, weights["sha256"])
    stored.chmod(0o644)
    stored.write_bytes(b"\0" * weights["size"])  # damaged in storage, same size
    job = author.request_job("demo/env", "1.0.0")
    identity = keyed_worker(served, account, tmp_path)
    assert run_job(identity, job["id"]) == "failed"
    final = author.get_job(job["id"])
    assert final["state"] == "error" and final["outcome"] is None and final["verification_id"] is None
    assert is_integrity_failure(final["failure"]) and weights["path"] in final["failure"]
    assert "Author code" not in final["log"]


def test_a_job_that_recorded_its_report_succeeded_with_its_outcome(served, author, account, tmp_path):
    job = author.request_job("demo/env", "1.0.0")
    identity = keyed_worker(served, account, tmp_path)
    assert run_job(identity, job["id"]) == "recorded"
    final = author.get_job(job["id"])
    assert (final["state"], final["outcome"]) == ("succeeded", "reproduced")
    assert recorded(author, final)["outcome"] == "reproduced"
