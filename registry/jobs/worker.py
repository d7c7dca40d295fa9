"""`registry worker`: a Celery worker that advertises its hardware and takes only jobs it can run."""

import logging
import os
import socket
from pathlib import Path

from reproreg.jobs.celery_app import TASK, CeleryDispatcher, make_celery, queue_name
from reproreg.jobs.runner import Poller, WorkerIdentity, ensure_key, run_job, use_own_environment


def build_worker_app(broker_url: str, prefix: str, identity: WorkerIdentity):
    app = make_celery(broker_url, prefix)

    @app.task(name=TASK)
    def verify_job(job_id: str) -> str:
        outcome = run_job(identity, job_id)
        logging.getLogger(__name__).info("job %s: %s", job_id, outcome)
        return outcome

    return app


def start_worker(*, url: str, token: str, broker_url: str, prefix: str, gpu: str | None, name: str | None,
                 home: Path, concurrency: int, poll_interval_s: float, heartbeat_s: float) -> None:
    from regctl.environment import cpu_model

    home.mkdir(parents=True, exist_ok=True)
    os.environ["REGCTL_CONFIG"] = str(home / "config.json")  # where the worker's signing key lives
    accelerators = ("cpu", "gpu") if gpu else ("cpu",)
    identity = WorkerIdentity(url=url, token=token, name=name or socket.gethostname(), accelerators=accelerators,
                              hardware=f"gpu={gpu}" if gpu else f"cpu={cpu_model()}", home=home,
                              heartbeat_s=heartbeat_s)
    use_own_environment()
    ensure_key(identity)
    app = build_worker_app(broker_url, prefix, identity)
    dispatcher = CeleryDispatcher(broker_url, prefix)
    Poller(identity, lambda job: dispatcher.dispatch(job["id"], job["accelerator"], job["timeout_s"]),
           poll_interval_s).start()
    queues = ",".join(queue_name(prefix, accelerator) for accelerator in accelerators)
    app.worker_main(["worker", "-Q", queues, "-c", str(concurrency), "-n", f"{identity.name}@%h",
                     "--without-gossip", "--without-mingle", "--loglevel", "INFO"])
