"""The verification report: what was checked, where, how each claim fared. Signed by its verifier (Ed25519
over the report's canonical JSON, RFC 8785) and checked by the registry before it is accepted."""

import base64

import rfc8785
from marshmallow import Schema, ValidationError, fields, validate

from schemas.names import validate_digest, validate_full_name

REPORT_VERSION = 1
OUTCOMES = ("reproduced", "claim_failed", "evaluation_failed")
VERDICTS = ("held", "failed", "missing")
ROLES = ("author", "reviewer", "reference-worker")


class RunSchema(Schema):
    seed = fields.Integer(required=True)
    exit_code = fields.Integer(allow_none=True, required=True)
    timed_out = fields.Boolean(required=True)
    wall_time_s = fields.Float(required=True)
    stdout_tail = fields.String(required=True, validate=validate.Length(max=64 * 1024))
    stderr_tail = fields.String(required=True, validate=validate.Length(max=64 * 1024))
    metrics = fields.Dict(allow_none=True, required=True)
    error = fields.String(allow_none=True, load_default=None)
    #: each limit the run was held to, its value and the mechanism that enforced it
    limits = fields.Dict(load_default=dict)


class ClaimVerdictSchema(Schema):
    metric = fields.String(required=True)
    dataset = fields.String(required=True)
    claimed = fields.Float(required=True)
    tolerance = fields.Dict(required=True)
    measured = fields.Float(allow_none=True, required=True)
    measured_std = fields.Float(allow_none=True, load_default=None)
    runs = fields.Integer(required=True)
    rule = fields.String(required=True)
    verdict = fields.String(required=True, validate=validate.OneOf(VERDICTS))


class ReportSchema(Schema):
    report_version = fields.Integer(required=True, validate=validate.Equal(REPORT_VERSION))
    name = fields.String(required=True, validate=validate_full_name)
    version = fields.String(required=True)
    digest = fields.String(required=True, validate=validate_digest)
    verifier = fields.String(allow_none=True, load_default=None)
    started_at = fields.String(required=True)
    finished_at = fields.String(required=True)
    command = fields.String(required=True)
    sandbox = fields.String(required=True, validate=validate.OneOf(["bubblewrap", "none"]))
    environment = fields.Dict(required=True)
    runs = fields.List(fields.Nested(RunSchema), required=True)
    claims = fields.List(fields.Nested(ClaimVerdictSchema), required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    failure = fields.String(allow_none=True, load_default=None)
    job = fields.String(allow_none=True, load_default=None)


class SubmissionSchema(Schema):
    report = fields.Dict(required=True)
    signature = fields.String(required=True, metadata={"description": "base64 Ed25519 signature of the report's "
                                                                      "canonical JSON"})
    key_id = fields.String(required=True)
    lease = fields.String(load_default=None, allow_none=True,
                          metadata={"description": "the job lease token, for a report that completes a job"})


class VerificationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    version = fields.String()
    digest = fields.String()
    verifier = fields.String()
    role = fields.String()
    outcome = fields.String()
    failure = fields.String(allow_none=True)
    hardware = fields.String()
    accelerator_used = fields.String()
    sandbox = fields.String()
    created_at = fields.DateTime()
    key_id = fields.String()
    signature_status = fields.String()
    claims = fields.List(fields.Dict())
    environment = fields.Dict()
    report = fields.Dict()

class BadgeStatesSchema(Schema):
    name = fields.String()
    version = fields.String()
    digest = fields.String()
    yanked = fields.Boolean()
    available = fields.Boolean()
    functional = fields.Boolean()
    reproduced = fields.Boolean()
    reproduced_state = fields.String()
    checklist = fields.Boolean()
    checklist_state = fields.String()
    verifications = fields.Dict()


class SigningKeySchema(Schema):
    id = fields.String(dump_only=True)
    public_key = fields.String(required=True, metadata={"description": "base64 of the raw 32-byte Ed25519 key"})
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    created_at = fields.DateTime(dump_only=True)


def report_bytes(report: dict) -> bytes:
    """The signed bytes: the report's canonical JSON."""
    return rfc8785.dumps(report)


def decode_b64(value: str, length: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        raise ValidationError("not valid base64") from None
    if length is not None and len(raw) != length:
        raise ValidationError(f"must decode to {length} bytes")
    return raw


def hardware_summary(environment: dict) -> str:
    """One line naming the hardware a verification ran on."""
    gpus = environment.get("gpus") or []
    if gpus:
        cuda = f", CUDA {environment['cuda']}" if environment.get("cuda") else ""
        return f"{len(gpus)}x {gpus[0].get('name')}{cuda}"
    return f"CPU: {environment.get('cpu')} ({environment.get('cpu_count')} cores)"
