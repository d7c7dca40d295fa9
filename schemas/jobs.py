"""Reference verification jobs on the wire: their state, the worker side (lease, heartbeat, fail), and the
message on a broker that triggers a job (what the registry sends and the reference workers take)."""

from marshmallow import fields, validate

from reproreg_schemas.messages import Schema
from reproreg_schemas.vocabulary import Accelerator, JobState, Outcome, values

ACCELERATORS = validate.OneOf(values(Accelerator))

#: the Celery task whose one argument is the id of the job to run
VERIFY_TASK = "registry.verify_job"
#: seconds a job's message may run beyond the job's own time budget before Celery stops it (half of them for
#: the soft limit): the budget covers the evaluation, the margin the pull, the hashing and the report
TIME_LIMIT_MARGIN_S = 600
#: how a worker starts the reason of a job it could not run because the files failed their hash check
#: (``POST /jobs/{id}/fail``): the requester reads it as an integrity failure, not a failed evaluation
INTEGRITY_FAILURE_PREFIX = "integrity failure: "


def is_integrity_failure(failure: str | None) -> bool:
    return bool(failure) and failure.startswith(INTEGRITY_FAILURE_PREFIX)


#: the GPU memory classes (GB of 10^9 bytes, see ``reproreg_schemas.workers``) that have a queue of their own
GPU_MEMORY_CLASSES_GB = (8, 16, 24, 32, 40, 48, 80, 96, 141, 192)


def memory_class_gb(min_memory_gb: float) -> int:
    """The smallest memory class that meets ``min_memory_gb`` (the largest class beyond it: the registry has
    refused such a job unless a worker that big registered, and a worker's lease is checked again)."""
    return next((gb for gb in GPU_MEMORY_CLASSES_GB if gb >= min_memory_gb), GPU_MEMORY_CLASSES_GB[-1])


def queue_name(prefix: str, accelerator: str, min_memory_gb: float | None = None) -> str:
    """The queue of the jobs needing ``accelerator``: ``<prefix>verify.cpu``, ``<prefix>verify.gpu``, and for a
    GPU job that needs a given GPU memory ``<prefix>verify.gpu.<class>gb``, the smallest class that meets it
    (``verify.gpu.40gb`` for 33 to 40 GB)."""
    if accelerator == Accelerator.GPU and min_memory_gb:
        return f"{prefix}verify.gpu.{memory_class_gb(min_memory_gb)}gb"
    return f"{prefix}verify.{accelerator}"


def consumed_queues(prefix: str, accelerators, gpu_memory_gb: float | None = None) -> list[str]:
    """The queues a worker takes jobs from: one per accelerator, and on a GPU node of ``gpu_memory_gb`` every
    memory class it meets (an 80 GB node takes ``verify.gpu.8gb`` to ``verify.gpu.80gb``)."""
    queues = [queue_name(prefix, accelerator) for accelerator in accelerators]
    if Accelerator.GPU in accelerators and gpu_memory_gb:
        queues += [f"{prefix}verify.gpu.{gb}gb" for gb in GPU_MEMORY_CLASSES_GB if gb <= gpu_memory_gb]
    return queues


def message_options(prefix: str, accelerator: str, timeout_s: int, min_memory_gb: float | None = None) -> dict:
    """How a job's message is sent: its queue and time limits (keyword arguments of Celery's ``send_task``)."""
    return {"queue": queue_name(prefix, accelerator, min_memory_gb),
            "soft_time_limit": timeout_s + TIME_LIMIT_MARGIN_S // 2, "time_limit": timeout_s + TIME_LIMIT_MARGIN_S}


class JobSchema(Schema):
    id = fields.String()
    name = fields.String()
    version = fields.String()
    digest = fields.String()
    accelerator = fields.String()
    state = fields.String(validate=validate.OneOf(values(JobState)), metadata={
        "description": "queued, running, then succeeded (it ran and recorded a verification: see outcome) or "
                       "error (it could not run: see failure)"})
    attempt = fields.Integer()
    max_attempts = fields.Integer()
    worker = fields.String(allow_none=True)
    hardware = fields.String(allow_none=True)
    lease_expires_at = fields.DateTime(allow_none=True)
    heartbeat_at = fields.DateTime(allow_none=True)
    log = fields.String()
    failure = fields.String(allow_none=True)
    verification_id = fields.Integer(allow_none=True)
    outcome = fields.String(allow_none=True, validate=validate.OneOf(values(Outcome)), metadata={
        "description": "what the job's recorded verification found (reproduced, claim_failed, evaluation_failed); "
                       "a job that ran and recorded its report has succeeded, whatever the outcome; null until "
                       "then, and for a job that could not run (state error)"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    timeout_s = fields.Integer(allow_none=True)
    min_memory_gb = fields.Float(allow_none=True, metadata={
        "description": "the GPU memory (GB of 10^9 bytes) the evaluation requires of the worker; null for none"})
    lease = fields.String(allow_none=True)


class LeaseRequestSchema(Schema):
    worker = fields.String(required=True, validate=validate.Length(min=1, max=100))
    accelerators = fields.List(fields.String(validate=ACCELERATORS), required=True, validate=validate.Length(min=1))
    hardware = fields.String(required=True, validate=validate.Length(min=1, max=300))


class HeartbeatSchema(Schema):
    lease = fields.String(required=True)
    log = fields.String(load_default="", validate=validate.Length(max=64 * 1024))


class FailSchema(Schema):
    lease = fields.String(required=True)
    failure = fields.String(required=True, validate=validate.Length(min=1, max=10000))


class RunnableQuerySchema(Schema):
    accelerator = fields.List(fields.String(validate=ACCELERATORS), required=True)
    older_than_s = fields.Float(load_default=10.0, validate=validate.Range(min=0))


class RunnableSchema(Schema):
    jobs = fields.List(fields.Dict())
