"""The embedded executor: ``registry serve`` runs jobs in one background thread, as a worker would (over HTTP).

``create_executor`` is the ``embedded`` entry point of ``reproreg.worker``: the registry calls it with the address
it serves at, a token of its reference worker account and the worker's home, and gets an object it can hand jobs
to (``dispatch``) and start once it answers (``start``)."""

import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from regctl.errors import RegctlError
from reproreg_schemas.vocabulary import Accelerator
from reproreg_worker.environment import evaluation_environment
from reproreg_worker.gpus import GpuInfo, detect_gpus
from reproreg_worker.identity import WorkerIdentity
from reproreg_worker.polling import Poller
from reproreg_worker.runner import ensure_key, run_job

log = logging.getLogger(__name__)


class EmbeddedExecutor:
    def __init__(self, identity: WorkerIdentity, poll_interval_s: float = 30.0):
        self.identity = identity
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verification-job")
        self.poller = Poller(identity, self._submit, poll_interval_s)
        self.started = False

    def start(self) -> None:
        """Called once the HTTP server answers (the runner talks to it)."""
        ensure_key(self.identity)
        try:
            self.identity.register()
        except RegctlError as err:  # the poller registers again at its next look
            log.warning("registering the in-process worker's hardware failed: %s", err.message)
        self.poller.start()
        self.started = True

    def _submit(self, job) -> None:
        self.pool.submit(self._run, job["id"] if isinstance(job, dict) else job)

    def _run(self, job_id: str) -> None:
        try:
            log.info("job %s: %s", job_id, run_job(self.identity, job_id))
        except Exception:  # a job must never kill the executor thread
            log.exception("job %s crashed the embedded executor's run", job_id)

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int, min_memory_gb: float | None = None) -> None:
        if accelerator in self.identity.accelerators:
            self._submit(job_id)

    def stop(self) -> None:
        self.poller.stop()
        self.pool.shutdown(wait=True, cancel_futures=True)


def create_executor(*, url: str, token: str, home: Path, name: str = "in-process",
                    environment: Mapping[str, str] | None = None, poll_interval_s: float = 30.0,
                    detect=detect_gpus) -> EmbeddedExecutor:
    """The executor acting as the worker ``name``, keeping its key and cache under ``home``; its evaluations
    start from ``environment`` (by default this process's) with the worker's own Python first on PATH. It takes
    GPU jobs only when ``detect`` (nvidia-smi) finds a GPU on this machine, and registers what it found."""
    gpu: GpuInfo | None = detect()
    identity = WorkerIdentity(url=url, token=token, name=name, home=Path(home),
                              accelerators=(Accelerator.CPU, Accelerator.GPU) if gpu else (Accelerator.CPU,),
                              hardware=f"gpu={gpu.model}" if gpu else Accelerator.CPU, gpu=gpu,
                              environment=evaluation_environment(os.environ if environment is None else environment))
    return EmbeddedExecutor(identity, poll_interval_s)
