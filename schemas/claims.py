"""Claims: a metric, the value the paper reports, the data it was measured on and the tolerance that judges it."""

import math
import re

from marshmallow import ValidationError, fields, post_dump, validate, validates_schema

from reproreg_schemas.messages import Schema
from reproreg_schemas.names import validate_multi_line, validate_one_line
from reproreg_schemas.units import exact_number
from reproreg_schemas.vocabulary import ClaimKind, values

TOLERANCE_KINDS = ("abs", "rel", "min", "max")


class FiniteFloat(fields.Float):
    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("must be a number")
        number = super()._deserialize(value, attr, data, **kwargs)
        if math.isinf(number):
            raise ValidationError("must be a finite number")
        return number


class ToleranceSchema(Schema):
    """Exactly one of: ``abs`` (|measured - value| <= abs), ``rel`` (<= rel * |value|),
    ``min`` (measured >= min) or ``max`` (measured <= max)."""

    abs = FiniteFloat(validate=validate.Range(min=0))
    rel = FiniteFloat(validate=validate.Range(min=0))
    min = FiniteFloat()
    max = FiniteFloat()

    @validates_schema
    def _exactly_one(self, data, **kwargs):
        given = [kind for kind in TOLERANCE_KINDS if kind in data]
        if len(given) != 1:
            raise ValidationError(
                "give exactly one of abs, rel, min or max (e.g. {abs: 0.003})"
                + (f"; got {', '.join(given)}" if given else "")
            )


class ToleranceField(fields.Nested):
    """A claim's tolerance: a mapping with one of abs, rel, min or max. A bare number is ambiguous (absolute?
    relative? a bound?), so it is refused with the form it most likely meant."""

    def __init__(self, **kwargs):
        super().__init__(ToleranceSchema, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValidationError(
                f"a bare number is not a tolerance: write {{abs: {value}}} for ± {value}, or {{rel: {value}}} "
                f"(relative), {{min: {value}}} or {{max: {value}}} (one-sided bounds)")
        if not isinstance(value, dict):
            raise ValidationError("must be a mapping with one of abs, rel, min or max, e.g. {abs: 0.003}")
        return super()._deserialize(value, attr, data, **kwargs)


class ClaimSchema(Schema):
    metric = fields.String(required=True, validate=[validate.Length(min=1, max=200), validate_one_line])
    value = FiniteFloat(required=True)
    dataset = fields.String(required=True, validate=[validate.Length(min=1, max=300), validate_one_line])
    tolerance = ToleranceField(required=True)
    std = FiniteFloat(load_default=None, allow_none=True, validate=validate.Range(min=0))
    n_runs = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))
    description = fields.String(load_default=None, allow_none=True,
                                validate=[validate.Length(max=2000), validate_multi_line])
    #: the hardware the claimed value was measured on ("A100-80GB"); absent unless given, so that manifests written
    #: before it existed keep their canonical form (and their digest)
    hardware = fields.String(allow_none=True, validate=[validate.Length(min=1, max=300), validate_one_line])
    #: what the claim measures when not plain accuracy (``bias``: e.g. a StereoSet score); absent unless given
    kind = fields.String(validate=validate.OneOf(values(ClaimKind), error="claim kind must be one of {choices}"))

    @post_dump
    def _without_unnamed_hardware(self, data, **kwargs):
        if "hardware" in data and data["hardware"] is None:
            del data["hardware"]
        return data

    @validates_schema
    def _spread_needs_runs(self, data, **kwargs):
        if data.get("std") is not None and data.get("n_runs") is None:
            raise ValidationError("a claim with std (mean ± std) must say over how many runs: n_runs",
                                  field_name="n_runs")
        if data.get("std") is not None and data.get("n_runs") is not None and data["n_runs"] < 2:
            raise ValidationError("a spread needs at least 2 runs", field_name="n_runs")


def validate_unique_claims(claims: list[dict]) -> dict[int, list[str]]:
    """Errors keyed by claim index for claims that repeat an earlier (metric, dataset)."""
    seen: dict[tuple[str, str], int] = {}
    errors = {}
    for index, claim in enumerate(claims):
        key = (claim["metric"], claim["dataset"])
        if key in seen:
            errors[index] = [f"repeats claims[{seen[key]}] ({key[0]} on {key[1]})"]
        else:
            seen[key] = index
    return errors


def tolerance_text(claim: dict) -> str:
    """A claim's tolerance as people read it, on the pages and in regctl: ``± 0.003``, ``± 2 %`` (relative),
    ``≥ 0.85``, ``≤ 0.3``, then the spread it was reported with, e.g. ``± 0.01 · std 0.02 over 5 runs``."""
    kind, bound = next(iter(claim["tolerance"].items()))
    text = {"abs": f"± {exact_number(bound)}", "rel": f"± {exact_number(float(f'{bound * 100:.12g}'))} %",
            "min": f"≥ {exact_number(bound)}", "max": f"≤ {exact_number(bound)}"}[kind]
    if claim.get("std") is not None:
        text += f" · std {exact_number(claim['std'])} over {claim['n_runs']} runs"
    return text


#: words of a GPU's name that say nothing about which GPU it is
_NOISE_WORDS = {"NVIDIA", "GEFORCE", "TESLA"}


def _hardware_words(name: str) -> set[str]:
    """A hardware name as a set of upper-case words, sizes joined to their unit ("80 GB" -> "80GB") and counts
    ("8x") dropped: "NVIDIA A100-SXM4-80GB" -> {A100, SXM4, 80GB}."""
    text = re.sub(r"(\d+)\s*(GB|GIB|G)\b", lambda m: m.group(1) + "GB", name.upper())
    words = set(re.split(r"[^0-9A-Z.]+", text)) - _NOISE_WORDS - {""}
    return {word for word in words if not re.fullmatch(r"\d+X", word)}


def verified_hardware(environment: dict | None) -> str | None:
    """The hardware a verification ran on, from its report's environment: the GPU's name ("H100 80GB HBM3")
    when it used one, else the CPU's; None when the environment does not say. Read with .get(): an environment
    may name its GPU as ``gpu: {name: ...}`` or list them as ``gpus: [{name: ...}]``."""
    environment = environment if isinstance(environment, dict) else {}
    if environment.get("accelerator_used", "gpu") == "gpu":
        gpu = environment.get("gpu")
        if not isinstance(gpu, dict):
            gpus = environment.get("gpus")
            gpu = gpus[0] if isinstance(gpus, list) and gpus and isinstance(gpus[0], dict) else {}
        name = gpu.get("name")
        if isinstance(name, str) and name.strip():
            words = name.split()
            return " ".join(words[1:] if len(words) > 1 and words[0].upper() == "NVIDIA" else words)
    cpu = environment.get("cpu")
    if environment.get("accelerator_used") == "cpu":
        return f"CPU ({cpu})" if isinstance(cpu, str) and cpu.strip() else "CPU"
    return None


def same_hardware(claimed: str, verified: str) -> bool:
    """Whether hardware named by a claim ("A100-80GB", "CPU") is what a verification ran on ("A100-SXM4-80GB"):
    every word of the claim's name is in the verification's."""
    claimed_words = _hardware_words(claimed)
    return bool(claimed_words) and claimed_words <= _hardware_words(verified)


def hardware_note(claimed: str | None, environment: dict | None) -> str | None:
    """``claimed on A100-80GB, verified on H100 80GB HBM3`` when a claim names its hardware and a verification
    ran on other hardware; None when they agree or either is unknown. Said alongside the verdict, never instead
    of it: a verification on other hardware still counts."""
    verified = verified_hardware(environment)
    if not claimed or not verified or same_hardware(claimed, verified):
        return None
    return f"claimed on {claimed}, verified on {verified}"
