"""The embedded executor: `registry serve` runs jobs in one background thread, as a worker would."""

import logging
from concurrent.futures import ThreadPoolExecutor

from reproreg.jobs.runner import Poller, WorkerIdentity, ensure_key, run_job, use_own_environment

log = logging.getLogger(__name__)


class InProcessDispatcher:
    def __init__(self, identity: WorkerIdentity, poll_interval_s: float = 30.0):
        self.identity = identity
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verification-job")
        self.poller = Poller(identity, self._submit, poll_interval_s)
        self.started = False

    def start(self) -> None:
        """Called once the HTTP server answers (the runner talks to it)."""
        use_own_environment()
        ensure_key(self.identity)
        self.poller.start()
        self.started = True

    def _submit(self, job) -> None:
        self.pool.submit(self._run, job["id"] if isinstance(job, dict) else job)

    def _run(self, job_id: str) -> None:
        try:
            log.info("job %s: %s", job_id, run_job(self.identity, job_id))
        except Exception:  # a job must never kill the executor thread
            log.exception("job %s crashed the in-process executor's run", job_id)

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int) -> None:
        if accelerator in self.identity.accelerators:
            self._submit(job_id)
