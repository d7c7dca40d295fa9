"""The verification report: what was checked, where, how each claim fared. Signed by its verifier (Ed25519
over the report's canonical JSON, RFC 8785) and checked by the registry before it is accepted.

A version 2 report is bound to its signer and its moment: it names the verifier's account, the version digest,
the job (if any), a random nonce and the signing time, so that it cannot be submitted by someone else, twice,
or long after it was made."""

import base64
import re
from datetime import datetime, timedelta

import rfc8785
from marshmallow import INCLUDE, ValidationError, fields, validate

from reproreg_schemas.messages import Schema
from reproreg_schemas.names import validate_digest, validate_full_name, validate_one_line
from reproreg_schemas.vocabulary import (
    Accelerator,
    ChecklistState,
    Outcome,
    ReproducedState,
    Verdict,
    VerifierRole,
    values,
)

REPORT_VERSION = 2
#: the outcome strings, as reproreg.services.badges imports them (Outcome is their home)
#: a nonce is at least 128 random bits, written as lower-case hex
NONCE = re.compile(r"^[0-9a-f]{32,64}$")
#: what a key signs to prove it is held: never canonical JSON (which starts with "{"), so a challenge signature
#: can never pass for a report signature, nor the other way round
KEY_CHALLENGE_CONTEXT = b"reproducibility-registry: I hold this key and register it for my account\n"


def parse_signed_at(value: str) -> datetime:
    """An ISO 8601 time with an explicit UTC offset of zero (e.g. 2026-05-01T12:00:00Z)."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError("must be an ISO 8601 time such as 2026-05-01T12:00:00Z") from None
    if moment.utcoffset() != timedelta(0):
        raise ValidationError("must be in UTC (end in Z or +00:00)")
    return moment


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
    #: absent unless the run had a GPU whose driver reports its energy (older reports never have it)
    gpu_energy_j = fields.Float(validate=validate.Range(min=0), metadata={
        "description": "joules the run's GPUs used, from the driver's energy counters before and after it"})


class ClaimVerdictSchema(Schema):
    metric = fields.String(required=True)
    dataset = fields.String(required=True)
    claimed = fields.Float(required=True)
    tolerance = fields.Dict(required=True)
    measured = fields.Float(allow_none=True, required=True)
    measured_std = fields.Float(allow_none=True, load_default=None)
    runs = fields.Integer(required=True)
    rule = fields.String(required=True)
    verdict = fields.String(required=True, validate=validate.OneOf(values(Verdict)))


class GpuSchema(Schema):
    """One GPU as nvidia-smi names it."""

    class Meta:
        unknown = INCLUDE

    name = fields.String(required=True, metadata={"description": "the model, e.g. NVIDIA H100 80GB HBM3"})
    memory = fields.String(allow_none=True, metadata={"description": "as nvidia-smi writes it, e.g. 81559 MiB"})
    memory_mib = fields.Integer(allow_none=True)
    driver = fields.String(allow_none=True)


class TorchSettingsSchema(Schema):
    """PyTorch's version and determinism settings in the evaluation's Python, as a fresh process has them."""

    class Meta:
        unknown = INCLUDE

    version = fields.String()
    cuda = fields.String(allow_none=True, metadata={"description": "the CUDA PyTorch was built for"})
    cudnn = fields.Integer(allow_none=True)
    cudnn_deterministic = fields.Boolean()
    cudnn_benchmark = fields.Boolean()
    matmul_allow_tf32 = fields.Boolean(metadata={"description": "torch.backends.cuda.matmul.allow_tf32"})
    cudnn_allow_tf32 = fields.Boolean(metadata={"description": "torch.backends.cudnn.allow_tf32"})
    float32_matmul_precision = fields.String(allow_none=True)
    deterministic_algorithms = fields.Boolean(allow_none=True)
    cublas_workspace_config = fields.String(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "why the settings could not be read"})


class FrameworksSchema(Schema):
    class Meta:
        unknown = INCLUDE

    torch = fields.Nested(TorchSettingsSchema, allow_none=True,
                          metadata={"description": "null where the evaluation's Python has no PyTorch"})


class EnvironmentSchema(Schema):
    """A report's ``environment``. Every field may be absent (older reports have fewer); those present must have
    these types. Keys it does not name are kept."""

    class Meta:
        unknown = INCLUDE

    os = fields.String()
    python = fields.String()
    packages = fields.Dict(keys=fields.String(), values=fields.String())
    cpu = fields.String(allow_none=True)
    cpu_count = fields.Integer(allow_none=True)
    memory_gib = fields.Float(allow_none=True)
    gpus = fields.List(fields.Nested(GpuSchema))
    driver = fields.String(allow_none=True, metadata={"description": "the NVIDIA driver's version"})
    cuda = fields.String(allow_none=True, metadata={"description": "the CUDA version the driver supports"})
    frameworks = fields.Nested(FrameworksSchema)
    accelerator_requested = fields.String(validate=validate.OneOf(values(Accelerator)))
    accelerator_used = fields.String(validate=validate.OneOf(values(Accelerator)))


def validate_environment(environment: dict) -> None:
    """Check a report's environment against EnvironmentSchema without changing it (the report is signed as it
    is)."""
    problems = EnvironmentSchema().validate(environment)
    if problems:
        raise ValidationError(problems)


class ReportSchema(Schema):
    report_version = fields.Integer(required=True, validate=validate.Equal(REPORT_VERSION))
    name = fields.String(required=True, validate=validate_full_name)
    version = fields.String(required=True)
    digest = fields.String(required=True, validate=validate_digest)
    verifier = fields.String(required=True, metadata={"description": "the account that signed and submits it"})
    nonce = fields.String(required=True, validate=validate.Regexp(NONCE, error="must be 32 to 64 lower-case hex "
                                                                                "digits (at least 128 random bits)"))
    signed_at = fields.String(required=True, validate=parse_signed_at)
    started_at = fields.String(required=True)
    finished_at = fields.String(required=True)
    command = fields.String(required=True)
    sandbox = fields.String(required=True, validate=validate.OneOf(["bubblewrap", "none"]))
    environment = fields.Dict(required=True, validate=validate_environment)
    runs = fields.List(fields.Nested(RunSchema), required=True)
    claims = fields.List(fields.Nested(ClaimVerdictSchema), required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(values(Outcome)))
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
    role = fields.String(validate=validate.OneOf(values(VerifierRole)),
                         metadata={"description": "who recorded it: " + ", ".join(values(VerifierRole))})
    trusted = fields.Boolean(metadata={"description": "whether it counts toward badges (reference workers and "
                                                     "the venue's committee)"})
    outcome = fields.String(validate=validate.OneOf(values(Outcome)))
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
    reproduced_state = fields.String(validate=validate.OneOf(values(ReproducedState)))
    checklist = fields.Boolean()
    checklist_state = fields.String(validate=validate.OneOf(values(ChecklistState)))
    checklist_answered = fields.Integer(metadata={"description": "how many checklist items are answered"})
    checklist_items = fields.Integer(metadata={"description": "how many items the checklist has (21)"})
    claims = fields.Integer(metadata={"description": "how many claims the version makes; 0: no claims to verify"})
    verifications = fields.Dict()
    community = fields.Dict(metadata={"description": "reports by anyone outside the committee and the reference "
                                                     "workers: their count and outcomes; they never earn a badge"})


class SigningKeySchema(Schema):
    id = fields.String(dump_only=True)
    public_key = fields.String(required=True, metadata={"description": "base64 of the raw 32-byte Ed25519 key"})
    name = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=100), validate_one_line])
    challenge = fields.String(required=True, load_only=True,
                              metadata={"description": "a challenge from POST /keys/challenge, used once"})
    signature = fields.String(required=True, load_only=True,
                              metadata={"description": "base64 Ed25519 signature of the challenge bytes "
                                                       "(see key_challenge_bytes), made with this key"})
    created_at = fields.DateTime(dump_only=True)


class KeyChallengeSchema(Schema):
    challenge = fields.String()
    expires_at = fields.DateTime()


def report_bytes(report: dict) -> bytes:
    """The signed bytes: the report's canonical JSON."""
    return rfc8785.dumps(report)


def key_challenge_bytes(challenge: str) -> bytes:
    """What a key signs to prove possession: a fixed context, then the server's challenge."""
    return KEY_CHALLENGE_CONTEXT + challenge.encode()


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


def energy_text(joules: float) -> str:
    """``4.56 kJ``: joules in J, kJ or MJ."""
    if joules >= 1e6:
        return f"{joules / 1e6:.2f} MJ"
    if joules >= 1e3:
        return f"{joules / 1e3:.2f} kJ"
    return f"{joules:.1f} J"


def run_time_text(run: dict) -> str:
    """A run's wall time and, where it was measured, its GPU energy: ``12.30 s, 4.56 kJ on the GPU``."""
    text = f"{run['wall_time_s']:.2f} s"
    energy = run.get("gpu_energy_j")
    if isinstance(energy, int | float) and not isinstance(energy, bool):
        text += f", {energy_text(energy)} on the GPU"
    return text
