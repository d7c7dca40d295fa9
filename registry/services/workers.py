"""Reference workers' hardware: each worker registers what it can run (``PUT /api/v1/workers/<name>``) when it
starts and again at every poll, so ``last_seen_at`` says whether it is still around. The registry refuses a job
that needs more GPU memory than any recently seen worker has, instead of leaving it queued forever."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import ReferenceWorker, User
from reproreg.models.base import utcnow
from reproreg_schemas.vocabulary import Accelerator
from reproreg_schemas.workers import WORKER_SEEN_WITHIN_S, has_memory


def _require_worker(user: User | None) -> User:
    if user is None or not user.is_worker:
        raise RegistryError("FORBIDDEN", "only reference workers register hardware (registry users create NAME "
                            "--worker)")
    return user


def register(session: Session, user: User | None, name: str, accelerators: list[str],
             gpu: dict | None) -> ReferenceWorker:
    """Record (or refresh) the worker ``name`` of this worker account with its hardware; now is its last sighting."""
    _require_worker(user)
    if not 1 <= len(name) <= 100:
        raise RegistryError("VALIDATION_ERROR", "a worker's name has 1 to 100 characters",
                            problems={"name": ["must have 1 to 100 characters"]})
    if gpu is not None and Accelerator.GPU not in accelerators:
        raise RegistryError("VALIDATION_ERROR", "a worker that names a GPU offers the 'gpu' accelerator",
                            problems={"accelerators": ["must include 'gpu' when gpu is given"]})
    if Accelerator.GPU in accelerators and gpu is None:
        raise RegistryError("VALIDATION_ERROR", "a worker offering the 'gpu' accelerator says which GPU it has",
                            problems={"gpu": ["required with the 'gpu' accelerator"]})
    worker = session.scalar(select(ReferenceWorker).where(ReferenceWorker.owner_id == user.id,
                                                          ReferenceWorker.name == name))
    now = utcnow()
    if worker is None:
        worker = ReferenceWorker(owner_id=user.id, name=name, registered_at=now)
        session.add(worker)
    worker.accelerators = ",".join(sorted(set(accelerators)))
    worker.gpu_model = gpu["model"] if gpu else None
    worker.gpu_memory_gb = gpu["memory_gb"] if gpu else None
    worker.gpu_count = gpu.get("count", 1) if gpu else 0
    worker.last_seen_at = now
    session.flush()
    return worker


def recently_seen(session: Session) -> list[ReferenceWorker]:
    since = utcnow() - timedelta(seconds=WORKER_SEEN_WITHIN_S)
    return list(session.scalars(select(ReferenceWorker).where(ReferenceWorker.last_seen_at >= since)
                                .order_by(ReferenceWorker.last_seen_at.desc())))


def find(session: Session, user: User, name: str) -> ReferenceWorker | None:
    return session.scalar(select(ReferenceWorker).where(ReferenceWorker.owner_id == user.id,
                                                        ReferenceWorker.name == name))


def offers(worker: ReferenceWorker, accelerator: str) -> bool:
    return accelerator in worker.accelerators.split(",")


def can_run(worker: ReferenceWorker, accelerator: str, min_memory_gb: float | None) -> bool:
    if not offers(worker, accelerator):
        return False
    return accelerator != Accelerator.GPU or has_memory(worker.gpu_memory_gb, min_memory_gb)


def require_capable_worker(session: Session, accelerator: str, min_memory_gb: float | None, what: str) -> None:
    """Refuse (409 NO_CAPABLE_WORKER) a GPU job with a memory requirement that no recently seen worker meets."""
    if accelerator != Accelerator.GPU or not min_memory_gb:
        return
    seen = recently_seen(session)
    if any(can_run(worker, accelerator, min_memory_gb) for worker in seen):
        return
    largest = max((worker.gpu_memory_gb or 0 for worker in seen if offers(worker, Accelerator.GPU)), default=None)
    have = (f"the largest GPU among them has {largest:g} GB" if largest is not None
            else "none of them has a GPU")
    raise RegistryError(
        "NO_CAPABLE_WORKER",
        f"no reference worker can run {what}: its evaluation needs a GPU with at least {min_memory_gb:g} GB of "
        f"memory, and {have} ({len(seen)} worker(s) seen in the last {WORKER_SEEN_WITHIN_S // 60} minutes)",
        min_memory_gb=min_memory_gb, largest_gpu_memory_gb=largest, workers_seen=len(seen))


def worker_document(worker: ReferenceWorker) -> dict:
    gpu = ({"model": worker.gpu_model, "memory_gb": worker.gpu_memory_gb, "count": worker.gpu_count}
           if worker.gpu_model else None)
    return {"name": worker.name, "owner": worker.owner.name, "accelerators": worker.accelerators.split(","),
            "gpu": gpu, "registered_at": worker.registered_at, "last_seen_at": worker.last_seen_at}
