"""Job leases through the API: one runner at a time, expiry, three attempts, one result; a job that recorded its
report succeeded, whatever the report found."""

import base64
import secrets
import time
from datetime import UTC, datetime

import pytest

from reproreg.unit_of_work import unit_of_work
from reproreg_schemas.jobs import INTEGRITY_FAILURE_PREFIX, is_integrity_failure
from reproreg_schemas.verdicts import judge, outcome
from reproreg_schemas.verification import REPORT_VERSION, report_bytes
from tests.factories import author_file
from tests.registry.helpers import FILES, publish, register_key


@pytest.fixture
def setup(app, http, make_user):
    from reproreg.models import User

    _, author = make_user("alice")
    _, worker = make_user("worker")
    _, stranger = make_user("bob")
    with unit_of_work(app.extensions["registry"].sessions) as session:
        session.query(User).filter(User.name == "worker").one().is_worker = True
    assert publish(http, author, FILES).status_code == 201
    return author, worker, stranger


def lease(http, worker, job_id, name="w1"):
    return http.post(f"/api/v1/jobs/{job_id}/lease", json={"worker": name, "accelerators": ["cpu"],
                                                           "hardware": "cpu=test"}, headers=worker)


def test_only_the_author_requests_and_only_workers_lease(http, setup):
    author, worker, stranger = setup
    assert http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=stranger).status_code == 403
    job = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=author).json
    assert job["state"] == "queued" and job["attempt"] == 0 and job["accelerator"] == "cpu"
    assert lease(http, stranger, job["id"]).status_code == 403
    assert http.get(f"/api/v1/jobs/{job['id']}", headers=stranger).status_code == 404
    assert http.get(f"/api/v1/jobs/{job['id']}", headers=author).json["state"] == "queued"


def test_a_job_is_leased_once_and_a_stale_lease_cannot_act(app, http, setup):
    author, worker, _ = setup
    job = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=author).json
    first = lease(http, worker, job["id"])
    assert first.status_code == 200 and first.json["state"] == "running" and first.json["attempt"] == 1
    duplicate = lease(http, worker, job["id"], name="w2")  # a second delivery of the same message
    assert duplicate.status_code == 409 and duplicate.json["error"]["code"] == "JOB_NOT_AVAILABLE"

    beat = http.post(f"/api/v1/jobs/{job['id']}/heartbeat", json={"lease": first.json["lease"], "log": "hello\n"},
                     headers=worker)
    assert beat.status_code == 200 and "hello" in beat.json["log"]
    stale = http.post(f"/api/v1/jobs/{job['id']}/heartbeat", json={"lease": "0" * 32}, headers=worker)
    assert stale.status_code == 409

    failed = http.post(f"/api/v1/jobs/{job['id']}/fail", json={"lease": first.json["lease"], "failure": "boom"},
                       headers=worker)
    assert failed.json["state"] == "error" and failed.json["failure"] == "boom"
    assert lease(http, worker, job["id"]).status_code == 409  # finished jobs never run again


def test_an_expired_lease_is_runnable_again_and_the_third_expiry_is_a_stated_failure(app, http, setup):
    author, worker, _ = setup
    app.extensions["registry"].settings.__dict__["job_lease_s"] = 1
    job = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=author).json
    runnable = http.get("/api/v1/jobs/runnable?accelerator=cpu&older_than_s=0", headers=worker).json["jobs"]
    assert [j["id"] for j in runnable] == [job["id"]]
    tokens = []
    for attempt in (1, 2, 3):
        leased = lease(http, worker, job["id"], name=f"w{attempt}")
        assert leased.status_code == 200 and leased.json["attempt"] == attempt
        tokens.append(leased.json["lease"])
        assert http.get("/api/v1/jobs/runnable?accelerator=cpu&older_than_s=0", headers=worker).json["jobs"] == []
        time.sleep(1.2)
    # the first worker wakes up: its lease is long gone
    assert http.post(f"/api/v1/jobs/{job['id']}/heartbeat", json={"lease": tokens[0]},
                     headers=worker).status_code == 409
    assert http.get("/api/v1/jobs/runnable?accelerator=cpu&older_than_s=0", headers=worker).json["jobs"] == []
    final = http.get(f"/api/v1/jobs/{job['id']}", headers=author).json
    assert final["state"] == "error" and "3 attempts" in final["failure"] and final["attempt"] == 3


def test_gpu_jobs_go_only_to_gpu_workers(http, setup):
    author, worker, _ = setup
    files = dict(FILES)
    response = publish(http, author, files, name="alice/big", evaluation={
        "command": "python eval.py {files} {metrics}", "accelerator": "gpu", "timeout_s": 60})
    assert response.status_code == 201
    job = http.post("/api/v1/artifacts/alice/big/versions/1.0.0/jobs", headers=author).json
    assert job["accelerator"] == "gpu"
    assert lease(http, worker, job["id"]).status_code == 409  # a CPU-only worker
    gpu = http.post(f"/api/v1/jobs/{job['id']}/lease", json={"worker": "g1", "accelerators": ["cpu", "gpu"],
                                                             "hardware": "gpu=H100-80GB"}, headers=worker)
    assert gpu.status_code == 200 and gpu.json["hardware"] == "gpu=H100-80GB"
    assert gpu.json["min_memory_gb"] is None  # no memory requirement: any GPU worker, registered or not, takes it


def _job_report(http, job: dict, metrics: dict) -> dict:
    """The report a worker makes for the job, judged from ``metrics`` (three seeded runs)."""
    claims = author_file()["claims"]
    runs = [{"seed": seed, "exit_code": 0, "timed_out": False, "wall_time_s": 1.0, "stdout_tail": "",
             "stderr_tail": "", "metrics": dict(metrics), "error": None, "limits": {}} for seed in range(3)]
    verdicts = judge(claims, [run["metrics"] for run in runs])
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"report_version": REPORT_VERSION, "name": job["name"], "version": job["version"],
            "digest": job["digest"], "verifier": "worker", "nonce": secrets.token_hex(16), "signed_at": now,
            "started_at": now, "finished_at": now, "command": "python eval.py", "sandbox": "bubblewrap",
            "environment": {"cpu": "test", "cpu_count": 1, "accelerator_used": "cpu"}, "runs": runs,
            "claims": verdicts, "outcome": outcome(verdicts), "failure": None, "job": job["id"]}


@pytest.mark.parametrize("metrics, found", [({"top1": 0.953, "loss": 0.2}, "reproduced"),
                                            ({"top1": 0.5, "loss": 0.2}, "claim_failed")])
def test_a_job_that_recorded_its_report_succeeded_whatever_the_claims_did(http, setup, metrics, found):
    author, worker, _ = setup
    private, key_id = register_key(http, worker)
    job = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=author).json
    assert job["outcome"] is None
    token = lease(http, worker, job["id"]).json["lease"]
    report = _job_report(http, job, metrics)
    recorded = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/verifications", headers=worker, json={
        "report": report, "key_id": key_id, "lease": token,
        "signature": base64.b64encode(private.sign(report_bytes(report))).decode()})
    assert recorded.status_code == 201, recorded.json
    final = http.get(f"/api/v1/jobs/{job['id']}", headers=author).json
    assert final["state"] == "succeeded" and final["outcome"] == found
    assert final["verification_id"] == recorded.json["id"]
    assert f"finished: succeeded (outcome {found.replace('_', ' ')})" in final["log"]


def test_a_job_that_could_not_run_is_an_error_without_an_outcome(http, setup):
    author, worker, _ = setup
    job = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=author).json
    token = lease(http, worker, job["id"]).json["lease"]
    failure = INTEGRITY_FAILURE_PREFIX + "weights/model.safetensors does not hash to its digest"
    http.post(f"/api/v1/jobs/{job['id']}/fail", json={"lease": token, "failure": failure}, headers=worker)
    final = http.get(f"/api/v1/jobs/{job['id']}", headers=author).json
    assert final["state"] == "error" and final["outcome"] is None and is_integrity_failure(final["failure"])
