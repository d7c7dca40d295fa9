"""Verification jobs, the registry's side: a job's truth is its database row; an executor is only told that a
job was committed, and leases it over HTTP before running it, so duplicate or stale triggers do nothing.

- the embedded executor (the default): ``registry serve`` runs the reference worker's embedded executor in a
  thread; it talks HTTP to the registry like any worker;
- Celery on Redis or RabbitMQ (at scale): the registry sends each job to a ``<prefix>verify.cpu`` or
  ``<prefix>verify.gpu`` queue, and ``registry worker`` processes on GPU nodes take them.
The reference worker is a package of its own (``reproreg_worker``); the registry never imports it, and finds it
through the ``reproreg.worker`` entry points (see ``registry/cli.py``).
"""

from typing import Protocol

from reproreg.config import Settings


class Dispatcher(Protocol):
    """What the registry needs of a job executor: hand it a job that was just committed."""

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int, min_memory_gb: float | None = None) -> None: ...


class EmbeddedExecutor(Dispatcher, Protocol):
    """An executor running inside ``registry serve``: told of each job, and started once the server answers."""

    def start(self) -> None: ...


class NullDispatcher:
    """No executor attached: jobs wait until a worker's poll finds them."""

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int, min_memory_gb: float | None = None) -> None:
        return None


def create_dispatcher(settings: Settings) -> Dispatcher:
    if settings.jobs_backend == "celery":
        from reproreg.jobs.celery_dispatch import CeleryDispatcher

        return CeleryDispatcher(settings.broker_url, settings.queue_prefix)
    return NullDispatcher()
