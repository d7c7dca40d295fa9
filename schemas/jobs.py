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


def queue_name(prefix: str, accelerator: str) -> str:
    """The queue of the jobs needing ``accelerator`` (``<prefix>verify.cpu``, ``<prefix>verify.gpu``)."""
    return f"{prefix}verify.{accelerator}"


def message_options(prefix: str, accelerator: str, timeout_s: int) -> dict:
    """How a job's message is sent: its queue and time limits (keyword arguments of Celery's ``send_task``)."""
    return {"queue": queue_name(prefix, accelerator), "soft_time_limit": timeout_s + TIME_LIMIT_MARGIN_S // 2,
            "time_limit": timeout_s + TIME_LIMIT_MARGIN_S}


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
