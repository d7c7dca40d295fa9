"""Reference verification jobs on the wire: their state, and the worker side (lease, heartbeat, fail)."""

from marshmallow import Schema, fields, validate

ACCELERATORS = validate.OneOf(["cpu", "gpu"])


class JobSchema(Schema):
    id = fields.String()
    name = fields.String()
    version = fields.String()
    digest = fields.String()
    accelerator = fields.String()
    state = fields.String()
    attempt = fields.Integer()
    max_attempts = fields.Integer()
    worker = fields.String(allow_none=True)
    hardware = fields.String(allow_none=True)
    lease_expires_at = fields.DateTime(allow_none=True)
    heartbeat_at = fields.DateTime(allow_none=True)
    log = fields.String()
    failure = fields.String(allow_none=True)
    verification_id = fields.Integer(allow_none=True)
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
