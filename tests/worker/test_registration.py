"""A worker registers its hardware over HTTP, and hands on again only the jobs its GPU can run."""

from regctl.api import ApiClient
from regctl.commands import push
from reproreg_worker.celery_consumer import worker_identity
from reproreg_worker.gpus import GpuInfo
from reproreg_worker.polling import redispatch
from tests.factories import METRIC_SCRIPT, make_eval_project


def gpu_worker(served, token, name, gpu, tmp_path):
    return worker_identity(url=served, token=token, gpu=gpu, name=name, home=tmp_path / name, heartbeat_s=1,
                           environment={"PATH": "/usr/bin:/bin"})


def test_workers_register_and_only_a_big_enough_one_is_handed_the_job(served, account, tmp_path):
    token = account("reference", worker=True)
    big = gpu_worker(served, token, "big", GpuInfo("NVIDIA H100 80GB HBM3", 85.5, 1), tmp_path)
    small = gpu_worker(served, token, "small", GpuInfo("NVIDIA L4", 24.1, 1), tmp_path)
    cpu = gpu_worker(served, token, "cpu", None, tmp_path)
    for worker in (big, small, cpu):
        worker.register()
    seen = {w["name"]: w["gpu"] for w in ApiClient(served, token).workers()}
    assert seen == {"big": {"model": "NVIDIA H100 80GB HBM3", "memory_gb": 85.5, "count": 1},
                    "small": {"model": "NVIDIA L4", "memory_gb": 24.1, "count": 1}, "cpu": None}

    author = ApiClient(served, account("demo"))
    project = make_eval_project(tmp_path / "project", "demo/big", METRIC_SCRIPT.format(body='metrics = {"acc": 1.0}'),
                                [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}],
                                accelerator="gpu", gpu={"min_memory_gb": 40})
    push(author, project, show_progress=False)
    job = author.request_job("demo/big", "1.0.0")
    assert job["min_memory_gb"] == 40

    handed = {name: [] for name in ("big", "small", "cpu")}
    for worker in (big, small, cpu):
        redispatch(worker, handed[worker.name].append, older_than_s=0)
    assert [j["id"] for j in handed["big"]] == [job["id"]]
    assert handed["small"] == [] and handed["cpu"] == []
