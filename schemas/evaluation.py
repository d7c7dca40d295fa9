"""The evaluation spec: the command that computes the metrics from the files, and what it needs."""

import string

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from reproreg_schemas.claims import FiniteFloat
from reproreg_schemas.messages import Schema
from reproreg_schemas.names import validate_one_line
from reproreg_schemas.vocabulary import Accelerator, values

PLACEHOLDERS = ("files", "metrics", "seed")
REQUIRED_PLACEHOLDERS = ("files", "metrics")
MAX_TIMEOUT_S = 7 * 24 * 3600


def command_placeholders(command: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(command) if name is not None}
    except ValueError as err:
        raise ValidationError(f"cannot read the placeholders of the command: {err}") from err


class GpuRequirementSchema(Schema):
    """What GPU an evaluation needs: at least ``min_memory_gb`` of GPU memory, and optionally a class of GPU
    (``model: A100``)."""

    min_memory_gb = FiniteFloat(validate=validate.Range(min=0, min_inclusive=False, max=100000))
    model = fields.String(validate=[validate.Length(min=1, max=100), validate_one_line])

    @validates_schema
    def _says_something(self, data, **kwargs):
        if not data:
            raise ValidationError("name min_memory_gb (e.g. {min_memory_gb: 40}), a model (e.g. {model: A100}), "
                                  "or both")


class EvaluationSpecSchema(Schema):
    #: shown to the verifier before it runs: no control or bidirectional characters can hide a part of it
    command = fields.String(required=True, validate=[validate.Length(min=1, max=4000), validate_one_line])
    accelerator = fields.String(load_default=Accelerator.CPU.value, validate=validate.OneOf(values(Accelerator)))
    timeout_s = fields.Integer(load_default=3600, strict=True, validate=validate.Range(min=1, max=MAX_TIMEOUT_S))
    memory_mb = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=16))
    #: the GPU it needs (only with accelerator gpu); absent unless given, so that manifests written before it
    #: existed keep their canonical form (and their digest)
    gpu = fields.Nested(GpuRequirementSchema)

    @validates_schema
    def _gpu_needs_a_gpu(self, data, **kwargs):
        if "gpu" in data and data.get("accelerator") != Accelerator.GPU.value:
            raise ValidationError("a GPU requirement needs accelerator: gpu (this evaluation runs on "
                                  f"{data.get('accelerator')})", field_name="gpu")

    @validates("command")
    def _placeholders(self, command: str, **kwargs):
        names = command_placeholders(command)
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise ValidationError(
                f"unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                "allowed: {files}, {metrics}, {seed}"
            )
        missing = [name for name in REQUIRED_PLACEHOLDERS if name not in names]
        if missing:
            raise ValidationError(
                f"the command must use {', '.join('{' + n + '}' for n in missing)}: "
                "{files} is the folder with the downloaded files, {metrics} the JSON file it writes"
            )


def gpu_requirement_text(gpu: dict | None) -> str:
    """A GPU requirement as people read it: ``A100 with at least 40 GB``, ``at least 40 GB``, ``A100``."""
    if not gpu:
        return ""
    memory = gpu.get("min_memory_gb")
    size = None if memory is None else (str(int(memory)) if float(memory).is_integer() else repr(float(memory)))
    if gpu.get("model") and size:
        return f"{gpu['model']} with at least {size} GB"
    return gpu.get("model") or f"at least {size} GB"
