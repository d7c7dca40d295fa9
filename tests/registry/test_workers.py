"""Reference workers register their hardware; a GPU job whose memory no recently seen worker has is refused when
it is requested, with the reason, instead of waiting in a queue forever (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest

from reproreg.models import ReferenceWorker
from reproreg.models.base import utcnow
from reproreg.unit_of_work import unit_of_work
from reproreg_schemas.workers import WORKER_SEEN_WITHIN_S
from tests.registry.helpers import FILES, publish

H100 = {"model": "NVIDIA H100 80GB HBM3", "memory_gb": 85.5, "count": 2}
L4 = {"model": "NVIDIA L4", "memory_gb": 24.1, "count": 1}
NEEDS_40GB = {"command": "python eval.py {files} {metrics}", "accelerator": "gpu", "timeout_s": 60,
              "gpu": {"min_memory_gb": 40}}


@pytest.fixture
def setup(app, http, make_user):
    from reproreg.models import User

    _, author = make_user("alice")
    _, worker = make_user("worker")
    with unit_of_work(app.extensions["registry"].sessions) as session:
        session.query(User).filter(User.name == "worker").one().is_worker = True
    assert publish(http, author, FILES, name="alice/big", evaluation=NEEDS_40GB).status_code == 201
    return author, worker


def register(http, headers, name, gpu, accelerators=None):
    return http.put(f"/api/v1/workers/{name}", headers=headers,
                    json={"accelerators": accelerators or (["cpu", "gpu"] if gpu else ["cpu"]), "gpu": gpu})


def request_job(http, author, name="alice/big"):
    return http.post(f"/api/v1/artifacts/{name}/versions/1.0.0/jobs", headers=author)


def lease(http, worker, job_id, name):
    return http.post(f"/api/v1/jobs/{job_id}/lease", headers=worker,
                     json={"worker": name, "accelerators": ["cpu", "gpu"], "hardware": f"gpu={name}"})


def test_a_worker_registers_and_refreshes_its_hardware(http, setup):
    author, worker = setup
    first = register(http, worker, "g1", L4)
    assert first.status_code == 200
    assert first.json["gpu"] == L4 and first.json["accelerators"] == ["cpu", "gpu"] and first.json["owner"] == "worker"
    again = register(http, worker, "g1", {**L4, "model": "L4-24GB"})
    assert again.json["gpu"]["model"] == "L4-24GB" and again.json["registered_at"] == first.json["registered_at"]
    assert again.json["last_seen_at"] >= first.json["last_seen_at"]
    assert register(http, worker, "c1", None).json["gpu"] is None
    listed = http.get("/api/v1/workers", headers=author).json["workers"]
    assert sorted(w["name"] for w in listed) == ["c1", "g1"]


def test_only_worker_accounts_register_and_a_gpu_worker_says_which_gpu(http, setup):
    author, worker = setup
    refused = register(http, author, "g1", H100)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "FORBIDDEN"
    assert http.put("/api/v1/workers/g1", json={"accelerators": ["cpu"], "gpu": None}).status_code == 403
    no_gpu = register(http, worker, "g1", None, accelerators=["cpu", "gpu"])
    assert no_gpu.status_code == 422 and "gpu" in no_gpu.json["error"]["message"]
    assert register(http, worker, "g1", {"model": "X", "memory_gb": -1}).status_code == 422
    assert register(http, worker, "x" * 101, None).status_code == 422


def test_a_job_needing_more_gpu_memory_than_any_worker_has_is_refused_with_the_reason(http, setup):
    author, worker = setup
    nobody = request_job(http, author)
    assert nobody.status_code == 409 and nobody.json["error"]["code"] == "NO_CAPABLE_WORKER"
    assert "at least 40 GB" in nobody.json["error"]["message"]
    assert "none of them has a GPU" in nobody.json["error"]["message"]

    register(http, worker, "small", L4)
    register(http, worker, "cpu", None)
    too_small = request_job(http, author)
    assert too_small.status_code == 409 and too_small.json["error"]["code"] == "NO_CAPABLE_WORKER"
    assert "the largest GPU among them has 24.1 GB" in too_small.json["error"]["message"]
    assert too_small.json["error"]["details"]["largest_gpu_memory_gb"] == 24.1
    assert too_small.json["error"]["details"]["workers_seen"] == 2

    register(http, worker, "big", H100)
    accepted = request_job(http, author)
    assert accepted.status_code == 201 and accepted.json["min_memory_gb"] == 40


def test_a_worker_not_seen_recently_does_not_count(app, http, setup):
    author, worker = setup
    register(http, worker, "big", H100)
    with unit_of_work(app.extensions["registry"].sessions) as session:
        session.query(ReferenceWorker).one().last_seen_at = utcnow() - timedelta(seconds=WORKER_SEEN_WITHIN_S + 60)
    assert request_job(http, author).json["error"]["code"] == "NO_CAPABLE_WORKER"
    register(http, worker, "big", H100)  # its poller refreshed the registration
    assert request_job(http, author).status_code == 201


def test_a_job_without_a_memory_requirement_is_never_refused_for_hardware(http, setup):
    author, _ = setup
    assert publish(http, author, FILES, name="alice/any", evaluation={
        "command": "python eval.py {files} {metrics}", "accelerator": "gpu", "timeout_s": 60}).status_code == 201
    assert request_job(http, author, "alice/any").status_code == 201
    assert publish(http, author, FILES, name="alice/cpu").status_code == 201
    assert request_job(http, author, "alice/cpu").status_code == 201


def test_only_a_registered_worker_with_enough_memory_leases_the_job(http, setup):
    author, worker = setup
    register(http, worker, "big", H100)
    register(http, worker, "small", L4)
    job = request_job(http, author).json
    runnable = http.get("/api/v1/jobs/runnable?accelerator=gpu&older_than_s=0", headers=worker).json["jobs"]
    assert [(j["id"], j["min_memory_gb"]) for j in runnable] == [(job["id"], 40)]
    small = lease(http, worker, job["id"], "small")
    assert small.status_code == 409 and "24.1 GB" in small.json["error"]["message"]
    unregistered = lease(http, worker, job["id"], "elsewhere")
    assert unregistered.status_code == 409 and "no registered GPU" in unregistered.json["error"]["message"]
    big = lease(http, worker, job["id"], "big")
    assert big.status_code == 200 and big.json["state"] == "running" and big.json["attempt"] == 1
