"""Verification jobs: one entry point (``run_job``) for every executor.

- in-process (the embedded default): a thread of ``registry serve`` runs jobs, talking HTTP to the registry
  like any worker;
- Celery on Redis or RabbitMQ (at scale): ``registry worker`` processes on GPU nodes take jobs from
  ``<prefix>verify.cpu`` / ``<prefix>verify.gpu`` queues.
The job's truth is its database row; a broker message only triggers ``run_job``, which leases the job
before running it, so duplicate or stale messages do nothing.
"""

from typing import Protocol

from reproreg.config import Settings


class Dispatcher(Protocol):
    """What the registry needs of a job executor: hand it a job that was just committed."""

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int) -> None: ...


class NullDispatcher:
    """No executor attached: jobs wait until a worker's poll finds them."""

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int) -> None:
        return None


def create_dispatcher(settings: Settings):
    if settings.jobs_backend == "celery":
        from reproreg.jobs.celery_app import CeleryDispatcher

        return CeleryDispatcher(settings.broker_url, settings.queue_prefix)
    return NullDispatcher()
