"""Verification jobs for the reference workers.

A job is runnable when it is queued, or running under a lease that has expired (its worker stopped
heartbeating). Leasing is one conditional UPDATE, so two deliveries of the same message cannot both run
it; every lease has a fresh token, and only the current token can record the job's one result. After
``max_attempts`` leases the job fails with a stated reason instead of running again.

A job that ran and recorded its verification has *succeeded*, whatever the verification found: its outcome
(reproduced, claim failed, evaluation failed) is the verification's. Only a job that could not run (the worker
reported why, e.g. the files failed their hash check, or it stopped responding on every attempt) ends in *error*.
"""

import secrets
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session

from reproreg.errors import RegistryError
from reproreg.models import User, Verification, VerificationJob, Version
from reproreg.models.base import utcnow
from reproreg.services import audit, workers
from reproreg.services.access import owns_namespace, readable_artifact
from reproreg.services.committees import role_in
from reproreg.services.versions import resolve_version
from reproreg_schemas.verdicts import runs_for
from reproreg_schemas.vocabulary import JobState

LOG_LIMIT = 64 * 1024


def may_request(session: Session, user: User, version: Version) -> bool:
    """The version's author, or a chair or reviewer of the version's venue, may ask for a reference run."""
    return owns_namespace(user, version.artifact.namespace) or role_in(session, user, version.venue) is not None


def request_job(session: Session, user: User | None, full_name: str, reference: str) -> VerificationJob:
    if user is None:
        raise RegistryError("UNAUTHORIZED", "requesting a verification needs a token: run 'regctl login'")
    version = resolve_version(session, readable_artifact(session, user, full_name), reference)
    if not may_request(session, user, version):
        raise RegistryError("FORBIDDEN", f"only the author of {full_name} or its venue's reviewers can request a "
                            "reference verification")
    if not version.claims:
        raise RegistryError("VALIDATION_ERROR", f"{full_name}@{version.version} has no claims to verify: a "
                            "reference verification judges claims, and this version makes none", reason="no_claims")
    if version.evaluation_spec is None:
        raise RegistryError("VALIDATION_ERROR", f"{full_name}@{version.version} has no evaluation spec to run")
    workers.require_capable_worker(session, version.evaluation_spec.accelerator, min_memory_gb(version),
                                   f"{full_name}@{version.version}")
    job = VerificationJob(id=secrets.token_hex(16), version_id=version.id, requested_by_id=user.id,
                          accelerator=version.evaluation_spec.accelerator, state=JobState.QUEUED, attempt=0,
                          log="")
    session.add(job)
    audit.record(session, user, "job.request", f"{full_name}@{version.version}", job_id=job.id)
    session.flush()
    return job


def get_job(session: Session, user: User | None, job_id: str) -> VerificationJob:
    job = session.get(VerificationJob, job_id) if job_id.isalnum() else None
    if job is None or user is None or not (user.is_worker or job.requested_by_id == user.id
                                           or owns_namespace(user, job.version.artifact.namespace)):
        raise RegistryError("NOT_FOUND", f"no job {job_id!r}")
    return job


def _require_worker(user: User | None) -> User:
    if user is None or not user.is_worker:
        raise RegistryError("FORBIDDEN", "only reference workers run jobs (registry users create NAME --worker)")
    return user


def _runnable(now):
    return or_(VerificationJob.state == JobState.QUEUED,
               (VerificationJob.state == JobState.RUNNING) & (VerificationJob.lease_expires_at < now))


def _gave_up(job: VerificationJob) -> str:
    return f"gave up: the worker stopped responding on every attempt ({job.max_attempts} attempts)"


def _is_exhausted(job: VerificationJob, now) -> bool:
    """Running under an expired lease that was its last allowed one: the job has failed, whether or not a write
    has recorded it yet (reads show it failed; the next lease request records it)."""
    return (job.state == JobState.RUNNING and job.lease_expires_at is not None and job.lease_expires_at < now
            and job.attempt >= job.max_attempts)


def give_up_exhausted(session: Session) -> int:
    """Record the failure of the jobs whose last allowed lease expired: their worker died every time."""
    now = utcnow()
    exhausted = list(session.scalars(select(VerificationJob).where(
        VerificationJob.state == JobState.RUNNING, VerificationJob.lease_expires_at < now,
        VerificationJob.attempt >= VerificationJob.max_attempts)))
    for job in exhausted:
        _finish(session, job, JobState.ERROR, _gave_up(job))
        job.finished_at = job.lease_expires_at
    return len(exhausted)


def runnable_jobs(session: Session, user: User | None, accelerators: list[str], older_than_s: float) -> list[dict]:
    """Jobs a worker with these accelerators could take now (queued for a while, or with an expired lease).

    Reads only: a job whose last allowed lease expired is not runnable, and reads show it failed."""
    _require_worker(user)
    now = utcnow()
    waited = ((VerificationJob.state == JobState.QUEUED)
              & (VerificationJob.created_at <= now - timedelta(seconds=older_than_s)))
    expired = ((VerificationJob.state == JobState.RUNNING) & (VerificationJob.lease_expires_at < now)
               & (VerificationJob.attempt < VerificationJob.max_attempts))
    rows = session.scalars(
        select(VerificationJob).where(or_(waited, expired), VerificationJob.accelerator.in_(accelerators))
        .order_by(VerificationJob.created_at).limit(50))
    return [{"id": job.id, "accelerator": job.accelerator, "timeout_s": time_budget_s(job.version),
             "min_memory_gb": min_memory_gb(job.version)} for job in rows]


def min_memory_gb(version: Version) -> float | None:
    """The GPU memory the version's evaluation requires (``gpu: {min_memory_gb: N}``), or None."""
    spec = version.evaluation_spec
    value = getattr(spec, "gpu_min_memory_gb", None) if spec is not None else None
    return float(value) if value else None


def _check_memory(session: Session, user: User, job_id: str, worker: str) -> None:
    """A GPU job with a memory requirement goes only to a registered worker whose GPU meets it."""
    job = session.get(VerificationJob, job_id) if job_id.isalnum() else None
    needed = min_memory_gb(job.version) if job is not None and job.accelerator == "gpu" else None
    if not needed:
        return
    registered = workers.find(session, user, worker)
    if registered is None or not workers.can_run(registered, job.accelerator, needed):
        have = (f"{registered.gpu_memory_gb:g} GB" if registered is not None and registered.gpu_memory_gb
                else "no registered GPU")
        raise RegistryError("JOB_NOT_AVAILABLE", f"job {job_id} needs a GPU with at least {needed:g} GB of memory "
                            f"and worker {worker} has {have}", job_id=job_id)


def time_budget_s(version: Version) -> int:
    """How long the whole verification may take: every seeded run at its timeout."""
    spec = version.evaluation_spec
    claims = [{"n_runs": claim.n_runs} for claim in version.claims]
    return spec.timeout_s * runs_for(claims, spec.command) if spec else 0


def lease(session: Session, user: User | None, job_id: str, worker: str, accelerators: list[str], hardware: str,
          lease_s: int) -> VerificationJob:
    _require_worker(user)
    _check_memory(session, user, job_id, worker)
    give_up_exhausted(session)
    now = utcnow()
    token = secrets.token_hex(16)
    result = session.execute(
        update(VerificationJob)
        .where(VerificationJob.id == job_id, _runnable(now), VerificationJob.accelerator.in_(accelerators),
               VerificationJob.attempt < VerificationJob.max_attempts)
        .values(state=JobState.RUNNING, attempt=VerificationJob.attempt + 1, lease_token=token,
                lease_owner=f"{user.name}/{worker}", lease_expires_at=now + timedelta(seconds=lease_s),
                heartbeat_at=now, hardware=hardware, started_at=now)
    )
    session.flush()
    if result.rowcount != 1:
        raise RegistryError("JOB_NOT_AVAILABLE", f"job {job_id} is not runnable by this worker (taken, finished, or "
                            "needing other hardware)", job_id=job_id).keeping_changes()  # and jobs given up
    job = session.get(VerificationJob, job_id)
    session.refresh(job)
    _append_log(job, f"attempt {job.attempt}: leased by {job.lease_owner} on {hardware}\n")
    session.flush()
    return job


def _current(session: Session, user: User | None, job_id: str, token: str) -> VerificationJob:
    _require_worker(user)
    job = session.get(VerificationJob, job_id) if job_id.isalnum() else None
    if job is None or job.state != JobState.RUNNING or job.lease_token != token:
        raise RegistryError("JOB_NOT_AVAILABLE", "this lease is no longer current: the job was finished or given "
                            "to another worker", job_id=job_id)
    return job


def heartbeat(session: Session, user: User | None, job_id: str, token: str, log: str, lease_s: int) -> VerificationJob:
    job = _current(session, user, job_id, token)
    now = utcnow()
    job.heartbeat_at = now
    job.lease_expires_at = now + timedelta(seconds=lease_s)
    if log:
        _append_log(job, log)
    session.flush()
    return job


def fail(session: Session, user: User | None, job_id: str, token: str, failure: str) -> VerificationJob:
    """The worker could not produce a report (e.g. integrity failure): the job fails with that reason."""
    job = _current(session, user, job_id, token)
    _finish(session, job, JobState.ERROR, failure)
    audit.record(session, user, "job.error", job_id, failure=failure[:500])
    session.flush()
    return job


def attach_verification(session: Session, user: User, job_id: str, token: str | None, verification) -> None:
    """Record a job's one result, in the transaction that records the verification: the job ran, so it has
    succeeded; what the verification found is its outcome (see ``job_document``)."""
    if token is None:
        raise RegistryError("JOB_NOT_AVAILABLE", "a report for a job must carry the job's lease")
    job = _current(session, user, job_id, token)
    if job.version_id != verification.version_id:
        raise RegistryError("INVALID_REPORT", "the report is not about the job's version")
    job.verification_id = verification.id
    _finish(session, job, JobState.SUCCEEDED, verification.failure,
            note=f"outcome {verification.outcome.replace('_', ' ')}")


def _finish(session: Session, job: VerificationJob, state: str, failure: str | None, note: str = "") -> None:
    job.state = state
    job.failure = failure
    job.finished_at = utcnow()
    job.lease_token = None
    details = "; ".join(text for text in (note, failure) if text)
    _append_log(job, f"finished: {state}" + (f" ({details})" if details else "") + "\n")


def _append_log(job: VerificationJob, text: str) -> None:
    job.log = ((job.log or "") + text)[-LOG_LIMIT:]


def job_document(job: VerificationJob) -> dict:
    version = job.version
    document = {
        "id": job.id, "name": version.artifact.full_name, "version": version.version, "digest": version.digest,
        "accelerator": job.accelerator, "state": job.state, "attempt": job.attempt,
        "max_attempts": job.max_attempts, "worker": job.lease_owner, "hardware": job.hardware,
        "lease_expires_at": job.lease_expires_at, "heartbeat_at": job.heartbeat_at, "log": job.log or "",
        "failure": job.failure, "verification_id": job.verification_id, "outcome": _outcome(job),
        "created_at": job.created_at,
        "started_at": job.started_at, "finished_at": job.finished_at,
        "timeout_s": time_budget_s(version), "min_memory_gb": min_memory_gb(version),
    }
    if _is_exhausted(job, utcnow()):
        document.update(state=JobState.ERROR, failure=_gave_up(job), finished_at=job.lease_expires_at,
                        log=document["log"] + f"finished: error ({_gave_up(job)})\n")
    return document


def _outcome(job: VerificationJob) -> str | None:
    """What the job's recorded verification found, or None while it has none."""
    if job.verification_id is None:
        return None
    verification = object_session(job).get(Verification, job.verification_id)
    return verification.outcome if verification is not None else None
