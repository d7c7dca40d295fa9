"""Reference verification jobs: the in-process executor, and Celery workers on the real Redis."""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests

from tests.factories import METRIC_SCRIPT, make_eval_project
from tests.live import BIN, LiveRegistry, Regctl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REDIS_URL = os.environ.get("REGISTRY_TEST_REDIS", "redis://127.0.0.1:6379/0")


def test_verify_remote_runs_on_the_in_process_executor(live, regctl_as):
    author = regctl_as("demo")
    assert author("push", EXAMPLES / "digits-logreg").code == 0
    result = author("verify", "demo/digits-logreg", "--remote", "--json", timeout=180)
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["submitted"]["role"] == "reference-worker" and report["submitted"]["signature_status"] == "valid"
    assert "running" in result.stderr or "queued" in result.stderr
    badges = requests.get(f"{live.url}/api/v1/artifacts/demo/digits-logreg/versions/latest/badges").json()
    assert badges["reproduced"] is True


def test_a_remote_job_that_finds_a_claim_false_succeeded_with_outcome_claim_failed(live, regctl_as):
    author = regctl_as("demo")
    assert author("push", EXAMPLES / "iris-overclaimed").code == 0
    result = author("verify", "demo/iris-overclaimed", "--remote", timeout=180)
    assert result.code == 1, result.stderr
    assert "succeeded (it ran; outcome: claim failed)" in result.stderr and ": failed" not in result.stderr
    assert "run seed 2:" in result.stdout and "FAILED" in result.stdout
    assert result.stdout.strip().splitlines()[-2] == "outcome: claim failed"


@pytest.fixture
def broker():
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # Redis must be running: .ci/run starts it; these tests never skip
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def celery_registry(database_url, tmp_path, broker):
    registry = LiveRegistry(database_url, tmp_path / "blobs", tmp_path / "server.log", REGISTRY_JOBS="celery",
                            REGISTRY_BROKER_URL=REDIS_URL, REGISTRY_QUEUE_PREFIX=broker, REGISTRY_JOB_LEASE_S="3")
    registry.start()
    registry.worker_token = registry.create_user("gpu-node-1", "--worker")
    workers = []

    def start_worker(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")
        process = subprocess.Popen(
            [BIN / "registry", "worker", "--url", registry.url, "--token", registry.worker_token, "--name", name,
             "--home", str(tmp_path / name), "--poll-interval", "1", "--heartbeat", "1"],
            env={**registry.env, "PATH": f"{BIN}:{os.environ['PATH']}"}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        workers.append(process)
        return process

    registry.start_worker = start_worker
    yield registry
    for process in workers:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    registry.stop()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_remote_job_through_celery_and_redis_completes_and_is_recorded(celery_registry, tmp_path):
    author = Regctl(celery_registry, tmp_path / "author", celery_registry.create_user("demo"))
    (tmp_path / "author").mkdir()
    assert author("push", EXAMPLES / "iris-overclaimed").code == 0
    celery_registry.start_worker("w1")
    result = author("verify", "demo/iris-overclaimed", "--remote", "--json", timeout=240)
    assert result.code == 1, result.stderr  # the example's accuracy claim fails
    report = result.json()
    assert report["submitted"]["role"] == "reference-worker" and report["outcome"] == "claim_failed"
    job = requests.get(f"{celery_registry.url}/api/v1/jobs/{report['job']}",
                       headers={"Authorization": f"Bearer {author.env['REGCTL_TOKEN']}"}).json()
    # the job ran and recorded its report: it succeeded, and what it found is its outcome
    assert job["state"] == "succeeded" and job["outcome"] == "claim_failed"
    assert job["attempt"] == 1 and job["worker"] == "gpu-node-1/w1"
    assert job["hardware"].startswith("cpu=")


def test_a_worker_killed_mid_job_leads_to_redelivery_and_one_result(celery_registry, tmp_path):
    token = celery_registry.create_user("demo")
    author = Regctl(celery_registry, tmp_path / "author", token)
    (tmp_path / "author").mkdir()
    body = "import time\ntime.sleep(6)\nmetrics = {'acc': 1.0}"
    project = make_eval_project(tmp_path / "p", "demo/slow", METRIC_SCRIPT.format(body=body),
                                [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}])
    assert author("push", project).code == 0
    headers = {"Authorization": f"Bearer {token}"}
    first = celery_registry.start_worker("w1")
    job = requests.post(f"{celery_registry.url}/api/v1/artifacts/demo/slow/versions/1.0.0/jobs",
                        headers=headers).json()

    def state():
        return requests.get(f"{celery_registry.url}/api/v1/jobs/{job['id']}", headers=headers).json()

    wait_for(lambda: state()["state"] == "running" and "Author code" in state()["log"], 120, "w1 to start the job")
    os.killpg(first.pid, signal.SIGKILL)  # the whole worker, mid-evaluation
    first.wait()
    assert state()["state"] == "running"

    celery_registry.start_worker("w2")
    final = wait_for(lambda: (s := state())["state"] in ("succeeded", "failed", "error") and s, 120,
                     "the job to finish on w2")
    assert final["state"] == "succeeded", final
    assert final["attempt"] == 2 and final["worker"] == "gpu-node-1/w2"
    verifications = requests.get(f"{celery_registry.url}/api/v1/artifacts/demo/slow/versions/1.0.0/verifications")
    assert len(verifications.json()) == 1
    time.sleep(3)  # any late duplicate delivery must not add a second result
    assert len(requests.get(verifications.url).json()) == 1
