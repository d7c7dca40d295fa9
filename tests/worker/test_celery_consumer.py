"""The Celery side of the worker: what it consumes, how it sends a found-again job, and how it presents itself."""

from pathlib import Path

from reproreg.jobs.celery_dispatch import CeleryDispatcher
from reproreg_schemas.jobs import VERIFY_TASK, message_options
from reproreg_worker.celery_consumer import build_worker_app, make_consumer, resend, worker_identity, worker_queues
from reproreg_worker.gpus import GpuInfo


class Recorder:
    def __init__(self):
        self.sent = []

    def send_task(self, name, args, **options):
        self.sent.append((name, args, options))


def test_deliveries_survive_crashes_one_message_at_a_time():
    conf = make_consumer("redis://127.0.0.1:6379/0", "p-").conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    assert conf.task_default_queue == "p-verify.cpu"
    assert conf.broker_transport_options["visibility_timeout"] >= 3600


def test_the_worker_and_the_registry_send_a_job_the_same_way():
    worker_side = Recorder()
    resend(worker_side, "p-")({"id": "j1", "accelerator": "gpu", "timeout_s": 100})
    registry_side = CeleryDispatcher("redis://127.0.0.1:6379/0", "p-")
    registry_side.app = Recorder()
    registry_side.dispatch("j1", "gpu", 100)
    expected = (VERIFY_TASK, ["j1"], {"queue": "p-verify.gpu", "soft_time_limit": 400, "time_limit": 700})
    assert worker_side.sent == registry_side.app.sent == [expected]
    assert message_options("p-", "gpu", 100) == expected[2]


def test_a_job_needing_gpu_memory_is_sent_to_its_memory_class_by_both_sides():
    worker_side = Recorder()
    resend(worker_side, "p-")({"id": "j1", "accelerator": "gpu", "timeout_s": 100, "min_memory_gb": 33})
    assert worker_side.sent[0][2]["queue"] == "p-verify.gpu.40gb"
    assert message_options("p-", "gpu", 100, 80)["queue"] == "p-verify.gpu.80gb"
    assert message_options("p-", "cpu", 100, 80)["queue"] == "p-verify.cpu"  # memory only classes GPU jobs


def test_a_gpu_node_takes_both_queues_and_consumes_the_verify_task(tmp_path):
    gpu = GpuInfo("H100-80GB", 85.5, 2)
    identity = worker_identity(url="http://registry", token="t", gpu=gpu, name="g1", home=tmp_path,
                               heartbeat_s=5, environment={"PATH": "/bin"})
    assert identity.accelerators == ("cpu", "gpu") and identity.hardware == "gpu=H100-80GB"
    assert identity.gpu == gpu
    assert worker_queues("p-", identity) == [
        "p-verify.cpu", "p-verify.gpu", "p-verify.gpu.8gb", "p-verify.gpu.16gb", "p-verify.gpu.24gb",
        "p-verify.gpu.32gb", "p-verify.gpu.40gb", "p-verify.gpu.48gb", "p-verify.gpu.80gb"]
    assert identity.home == Path(tmp_path) and identity.key_dir == Path(tmp_path) / "keys"
    assert identity.environment["PATH"].endswith(":/bin")
    assert VERIFY_TASK in build_worker_app("redis://127.0.0.1:6379/0", "", identity).tasks


def test_a_cpu_node_takes_only_the_cpu_queue(tmp_path):
    identity = worker_identity(url="http://registry", token="t", gpu=None, name="c1", home=tmp_path, heartbeat_s=5,
                               environment={"PATH": "/bin"})
    assert identity.accelerators == ("cpu",) and identity.gpu is None and identity.hardware.startswith("cpu=")
    assert worker_queues("", identity) == ["verify.cpu"]
