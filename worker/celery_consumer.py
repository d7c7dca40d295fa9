"""``registry worker``: a Celery worker that registers its hardware and takes only jobs it can run.

With ``--gpu`` it finds its GPUs with nvidia-smi (``--gpu NAME`` only renames them), registers them with the
registry (``PUT /api/v1/workers/<name>``, refreshed at every poll) and consumes ``verify.cpu``, ``verify.gpu`` and
the ``verify.gpu.<class>gb`` queues of every GPU memory class its GPUs meet (``reproreg_schemas.jobs``).

Celery alone does not make jobs survive crashes: a task killed by a signal can still be acknowledged, and a
redelivery after the visibility timeout can run a job twice. So: acks late, prefetch 1, reject on a lost
worker, time limits per message, and above all the lease in the job's row, which makes a second delivery a
no-op and lets an expired lease be taken again (at most three attempts). The task, its queues and its time
limits are the contract in ``reproreg_schemas.jobs``.

``start_worker`` is the ``celery`` entry point of ``reproreg.worker``."""

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from celery import Celery

from regctl.environment import cpu_model
from reproreg_schemas.jobs import VERIFY_TASK, consumed_queues, message_options, queue_name
from reproreg_schemas.vocabulary import Accelerator
from reproreg_worker.environment import evaluation_environment
from reproreg_worker.gpus import GpuInfo, detect_gpus, resolve_gpu
from reproreg_worker.identity import WorkerIdentity
from reproreg_worker.polling import Poller
from reproreg_worker.runner import ensure_key, run_job

log = logging.getLogger(__name__)

#: seconds before the broker hands an unacknowledged message to another worker: longer than any job runs
VISIBILITY_TIMEOUT_S = 6 * 3600


def make_consumer(broker_url: str, prefix: str = "") -> Celery:
    if not broker_url:
        raise ValueError("a broker URL is required (REGISTRY_BROKER_URL, e.g. redis://127.0.0.1:6379/0)")
    app = Celery("registry-worker", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=queue_name(prefix, Accelerator.CPU),
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    return app


def build_worker_app(broker_url: str, prefix: str, identity: WorkerIdentity) -> Celery:
    app = make_consumer(broker_url, prefix)

    @app.task(name=VERIFY_TASK, shared=False)  # this app's own: another app in the process has its own identity
    def verify_job(job_id: str) -> str:
        outcome = run_job(identity, job_id)
        log.info("job %s: %s", job_id, outcome)
        return outcome

    return app


def resend(app: Celery, prefix: str):
    """A job found again by the poller goes back on the broker, to whichever worker fits it."""

    def send(job: dict) -> None:
        app.send_task(VERIFY_TASK, args=[job["id"]], **message_options(prefix, job["accelerator"], job["timeout_s"],
                                                                       job.get("min_memory_gb")))

    return send


def worker_identity(*, url: str, token: str, gpu: GpuInfo | None, name: str | None, home: Path, heartbeat_s: float,
                    environment: Mapping[str, str] | None = None) -> WorkerIdentity:
    """The worker as it presents itself (a GPU node also takes CPU jobs), its home, and what its evaluations
    start from (``environment``, by default this process's, with the worker's own Python first on PATH)."""
    accelerators = (Accelerator.CPU, Accelerator.GPU) if gpu else (Accelerator.CPU,)
    return WorkerIdentity(url=url, token=token, name=name or socket.gethostname(), accelerators=accelerators,
                          hardware=f"gpu={gpu.model}" if gpu else f"cpu={cpu_model()}", gpu=gpu, home=Path(home),
                          heartbeat_s=heartbeat_s,
                          environment=evaluation_environment(os.environ if environment is None else environment))


def worker_queues(prefix: str, identity: WorkerIdentity) -> list[str]:
    return consumed_queues(prefix, identity.accelerators, identity.gpu.memory_gb if identity.gpu else None)


def start_worker(*, url: str, token: str, broker_url: str, prefix: str, gpu: str | None, name: str | None,
                 home: Path, concurrency: int, poll_interval_s: float, heartbeat_s: float,
                 environment: Mapping[str, str] | None = None, detect=detect_gpus) -> None:
    """Find the GPUs (``gpu``: None for none, "auto" for the detected ones, or a name for them), register the
    worker's key if it has none and its hardware, then take jobs until stopped. A ValueError says why the worker
    cannot start (no GPU found for ``--gpu``, no broker)."""
    identity = worker_identity(url=url, token=token, gpu=resolve_gpu(gpu, detect() if gpu else None), name=name,
                               home=home, heartbeat_s=heartbeat_s, environment=environment)
    app = build_worker_app(broker_url, prefix, identity)
    identity.home.mkdir(parents=True, exist_ok=True)
    ensure_key(identity)
    identity.register()
    Poller(identity, resend(app, prefix), poll_interval_s).start()
    queues = ",".join(worker_queues(prefix, identity))
    log.info("worker %s: %s; consuming %s", identity.name, identity.hardware, queues)
    app.worker_main(["worker", "-Q", queues, "-c", str(concurrency), "-n", f"{identity.name}@%h",
                     "--without-gossip", "--without-mingle", "--loglevel", "INFO"])
