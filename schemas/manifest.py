"""The author's ``regctl.yaml`` and the manifest built from it.

The manifest is the version's file list plus its metadata. Its canonical JSON (RFC 8785) is hashed with
SHA-256 to give the version digest; both the registry and regctl compute it with :func:`manifest_digest`, so
they agree byte for byte.
"""

import hashlib
import re

import rfc8785
from marshmallow import ValidationError, fields, post_dump, post_load, validate, validates_schema

from reproreg_schemas.checklist import ChecklistField
from reproreg_schemas.claims import ClaimSchema, FiniteFloat, validate_unique_claims
from reproreg_schemas.evaluation import EvaluationSpecSchema
from reproreg_schemas.messages import Schema
from reproreg_schemas.names import (
    normalise_relative_path,
    validate_digest,
    validate_full_name,
    validate_multi_line,
    validate_nested_text,
    validate_one_line,
    validate_semver,
    validate_venue_slug,
)
from reproreg_schemas.vocabulary import STAGE_ORDER, LinkType, ReleaseRisk, ReleaseStage, Visibility, values

MANIFEST_VERSION = 1

#: where a file lives on the Hugging Face Hub: ``hf://ORG/NAME@<40-hex commit>/<path>``
HUB_SCHEME = "hf://"
HUB_SOURCE_RE = re.compile(r"^hf://(?P<repo>[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95})"
                           r"@(?P<revision>[^/@]+)/(?P<path>.+)$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
MAX_SOURCE_LENGTH = 1200


def parse_hub_source(value: str) -> tuple[str, str, str]:
    """(repository, commit, path) of a pinned Hub source; raises ValidationError with the reason otherwise."""
    if not isinstance(value, str) or len(value) > MAX_SOURCE_LENGTH:
        raise ValidationError(f"a source is text of at most {MAX_SOURCE_LENGTH} characters")
    match = HUB_SOURCE_RE.fullmatch(value)
    if not match:
        raise ValidationError(f"{value!r} is not a Hub source: write hf://ORG/NAME@<40-hex commit>/<path>")
    repo, revision, path = match.group("repo", "revision", "path")
    if not COMMIT_RE.fullmatch(revision):
        raise ValidationError(f"{value!r} names {revision!r}, which is not a commit: a branch or tag can move and a "
                              "short hash can become ambiguous; pin the full 40-hex commit ('regctl init --from-hf "
                              "ORG/NAME@REVISION' resolves it)")
    validate_one_line(path)
    normalise_relative_path(path)
    return repo, revision, path


def validate_hub_source(value) -> None:
    parse_hub_source(value)


class RelativePath(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return normalise_relative_path(super()._deserialize(value, attr, data, **kwargs))


class PaperSchema(Schema):
    title = fields.String(required=True, validate=[validate.Length(min=1, max=500), validate_one_line])
    url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"})
    venue = fields.String(load_default=None, allow_none=True, validate=validate_venue_slug)
    authors = fields.List(fields.String(validate=[validate.Length(min=1, max=200), validate_one_line]),
                          load_default=list)


class CodeSchema(Schema):
    repo = fields.Url(required=True, schemes={"http", "https", "git", "ssh"})
    commit = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9a-f]{7,64}$", error="commit must be a git commit hash (7 to 64 hex digits)"))


class ComputeSchema(Schema):
    """The compute that training took: the hardware, on any accelerator ("8x A100 80GB", "TPU v4-32", "CPU"),
    and for how long (``hours``). ``gpu_hours``, the older spelling, is still read as hours on GPUs; a manifest
    that uses it keeps its digest (it is stored as written)."""

    hardware = fields.String(required=True, validate=[validate.Length(min=1, max=300), validate_one_line],
                             error_messages={"required": "name the hardware, e.g. '8x A100 80GB', 'TPU v4-32' or "
                                                         "'CPU'"})
    #: absent unless given, so that manifests written before it existed keep their canonical form
    hours = FiniteFloat(allow_none=True, validate=validate.Range(min=0))
    gpu_hours = FiniteFloat(load_default=None, allow_none=True, validate=validate.Range(min=0))
    # for the CO2e estimate (reproreg_schemas.carbon); each absent unless given, so older manifests keep their digest
    #: energy the hardware drew over the whole training, if measured (else power_w x hours is used)
    energy_kwh = FiniteFloat(allow_none=True, validate=validate.Range(min=0))
    #: average power the hardware drew, all devices together (e.g. 8 x 300 W TDP = 2400)
    power_w = FiniteFloat(allow_none=True, validate=validate.Range(min=0, min_inclusive=False))
    #: power usage effectiveness of the data centre (1.0: no overhead counted)
    pue = FiniteFloat(allow_none=True, validate=validate.Range(min=1, max=5))
    #: where it ran, e.g. a cloud region or a country code (shown; the intensity is what the estimate uses)
    region = fields.String(allow_none=True, validate=[validate.Length(min=1, max=100), validate_one_line])
    #: grams of CO2e per kWh of the grid that powered it
    carbon_intensity_g_per_kwh = FiniteFloat(allow_none=True, validate=validate.Range(min=0, max=2000))

    @validates_schema
    def _one_duration(self, data, **kwargs):
        if data.get("hours") is not None and data.get("gpu_hours") is not None:
            raise ValidationError("give hours (on the hardware named) or gpu_hours, not both", field_name="hours")

    @post_dump
    def _without_the_older_spelling(self, data, **kwargs):
        if "hours" in data and data.get("gpu_hours") is None:
            del data["gpu_hours"]
        return data


def compute_hours(compute: dict | None) -> float | None:
    """How many hours training took, whichever spelling the manifest uses."""
    if not compute:
        return None
    return compute["hours"] if compute.get("hours") is not None else compute.get("gpu_hours")


def compute_text(compute: dict | None) -> str:
    """The compute as people read it: ``8x A100 80GB · 190 hours``, ``TPU v4-32 · 12.5 hours``,
    ``8x V100 · 190 GPU hours`` (the older ``gpu_hours``), or the hardware alone."""
    if not compute:
        return ""
    text = compute.get("hardware") or ""
    if compute.get("hours") is not None:
        text += f" · {_hours(compute['hours'])} hours"
    elif compute.get("gpu_hours") is not None:
        text += f" · {_hours(compute['gpu_hours'])} GPU hours"
    return text


def _hours(value: float) -> str:
    """As written: whole numbers without ``.0``, others exactly (never rounded)."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else repr(float(value))


class TrainingSchema(Schema):
    config = RelativePath(load_default=None, allow_none=True)
    code = fields.Nested(CodeSchema, load_default=None, allow_none=True)
    compute = fields.Nested(ComputeSchema, load_default=None, allow_none=True)


class EthicsSchema(Schema):
    statement = fields.String(load_default=None, allow_none=True,
                              validate=[validate.Length(max=20000), validate_multi_line])
    bias_evaluations = fields.List(fields.Dict(validate=validate_nested_text), load_default=list)
    detector = fields.String(load_default=None, allow_none=True, validate=validate_full_name)


class LinkSchema(Schema):
    """A typed link from this version to another artifact, e.g. ``{type: detector-for, target: alice/gpt-small}``:
    shown on both artifacts' pages."""

    type = fields.String(required=True, validate=validate.OneOf(values(LinkType), error="link type must be one of "
                                                                                        "{choices}"))
    target = fields.String(required=True, validate=validate_full_name)


def link_errors(name: str | None, links: list[dict]) -> dict:
    """A link to the version's own artifact, or the same link twice, is a mistake."""
    errors: dict = {}
    seen: set[tuple[str, str]] = set()
    for index, link in enumerate(links):
        key = (link["type"], link["target"])
        if link["target"] == name:
            errors[index] = {"target": ["a version cannot link to its own artifact"]}
        elif key in seen:
            errors[index] = {"target": [f"the {link['type']} link to {link['target']} is listed twice"]}
        seen.add(key)
    return errors


class StrictBoolean(fields.Boolean):
    """true or false, never 0, 1 or a string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class PlanStepSchema(Schema):
    """One step of a staged release: the artifact reaches ``stage`` on ``on`` (a date, UTC midnight)."""

    stage = fields.String(required=True, validate=validate.OneOf(
        [stage.value for stage in STAGE_ORDER[1:]], error="a plan step's stage must be one of {choices}"))
    on = fields.Date(required=True)


class ReleaseSchema(Schema):
    """``release`` in regctl.yaml (not part of the manifest, so it never changes a digest). ``visibility`` is the
    older spelling of ``stage`` (private or public); ``stage``, ``plan``, ``risk`` and ``generative`` are absent
    unless given. After loading, ``visibility`` always holds the stage asked for."""

    visibility = fields.String(load_default=Visibility.PUBLIC.value, validate=validate.OneOf(
        values(ReleaseStage), error="visibility must be one of {choices}"))
    stage = fields.String(validate=validate.OneOf(values(ReleaseStage), error="stage must be one of {choices}"))
    plan = fields.List(fields.Nested(PlanStepSchema), validate=validate.Length(max=len(STAGE_ORDER)))
    risk = fields.String(validate=validate.OneOf(values(ReleaseRisk), error="risk must be one of {choices}"))
    generative = StrictBoolean()

    @validates_schema
    def _plan_moves_forward(self, data, **kwargs):
        plan = data.get("plan") or []
        order = [STAGE_ORDER.index(step["stage"]) for step in plan]
        if order != sorted(set(order)) or [s["on"] for s in plan] != sorted({s["on"] for s in plan}):
            raise ValidationError("a plan lists each stage once, each later than the one before, on later dates",
                                  field_name="plan")

    @post_load
    def _stage_is_visibility(self, data, **kwargs):
        if "stage" in data:
            data["visibility"] = data["stage"]
        return data


class _VersionMetadataSchema(Schema):
    """Fields shared by the author's file and the manifest."""

    name = fields.String(required=True, validate=validate_full_name)
    version = fields.String(required=True, validate=validate_semver)
    title = fields.String(required=True, validate=[validate.Length(min=1, max=300), validate_one_line])
    paper = fields.Nested(PaperSchema, load_default=None, allow_none=True)
    license = fields.String(required=True, validate=[validate.Length(min=1, max=100), validate_one_line])
    training = fields.Nested(TrainingSchema, load_default=None, allow_none=True)
    checklist = ChecklistField()
    claims = fields.List(fields.Nested(ClaimSchema), load_default=list)
    evaluation = fields.Nested(EvaluationSpecSchema, load_default=None, allow_none=True)
    ethics = fields.Nested(EthicsSchema, load_default=None, allow_none=True)
    #: absent unless given, so that manifests written before links existed keep their digest
    links = fields.List(fields.Nested(LinkSchema), validate=validate.Length(max=100))

    @validates_schema
    def _valid_links(self, data, **kwargs):
        errors = link_errors(data.get("name"), data.get("links") or [])
        if errors:
            raise ValidationError({"links": errors})

    @validates_schema
    def _unique_claims(self, data, **kwargs):
        errors = validate_unique_claims(data.get("claims") or [])
        if errors:
            raise ValidationError({"claims": errors})


class HubFileSchema(Schema):
    """A file of the version that lives on the Hugging Face Hub: its path in the version, its pinned source, and
    the size and SHA-256 the Hub publishes for it (``regctl init --from-hf`` writes these)."""

    path = RelativePath(required=True)
    source = fields.String(required=True, validate=validate_hub_source)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    sha256 = fields.String(required=True, validate=validate_digest)


class FileSpecField(fields.Field):
    """An entry of the author file's ``files``: a glob (text), or a Hub file (a mapping, see HubFileSchema)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            return HubFileSchema().load(value)
        if not isinstance(value, str):
            raise ValidationError("a file entry is a glob (text) or a Hub file {path, source, size, sha256}")
        validate.Length(min=1, max=1024)(value)
        validate_one_line(value)
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return HubFileSchema().dump(value) if isinstance(value, dict) else value


class AuthorFileSchema(_VersionMetadataSchema):
    """``regctl.yaml`` after its checklist file, if named, has been read in."""

    files = fields.List(FileSpecField(), required=True,
                        validate=validate.Length(min=1, error="list at least one file or glob"))
    release = fields.Nested(ReleaseSchema, load_default=lambda: {"visibility": Visibility.PUBLIC.value})


class FileEntrySchema(Schema):
    path = RelativePath(required=True)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    sha256 = fields.String(required=True, validate=validate_digest)
    media_type = fields.String(load_default="application/octet-stream",
                               validate=[validate.Length(min=1, max=200), validate_one_line])
    #: where the bytes live when not (only) in the registry: ``hf://ORG/NAME@<commit>/<path>``; absent unless
    #: given, so that manifests written before it existed keep their canonical form
    source = fields.String(validate=validate_hub_source)


class ManifestSchema(_VersionMetadataSchema):
    manifest_version = fields.Integer(required=True, strict=True, validate=validate.Equal(
        MANIFEST_VERSION, error=f"this registry reads manifest_version {MANIFEST_VERSION}"))
    files = fields.List(fields.Nested(FileEntrySchema), required=True,
                        validate=validate.Length(min=1, error="a version has at least one file"))

    @validates_schema
    def _references(self, data, **kwargs):
        errors = manifest_reference_errors(data)
        if errors:
            raise ValidationError(errors)


def manifest_reference_errors(data: dict) -> dict:
    """Cross-field rules: unique paths, and every path or claim that metadata names exists."""
    errors: dict = {}
    files = data.get("files") or []
    paths: set[str] = set()
    for index, entry in enumerate(files):
        if entry["path"] in paths:
            errors.setdefault("files", {})[index] = {"path": [f"{entry['path']!r} is listed twice"]}
        paths.add(entry["path"])
    training = data.get("training") or {}
    if training.get("config") and training["config"] not in paths:
        errors["training"] = {"config": [f"{training['config']!r} is not one of the version's files"]}
    metrics = {claim["metric"] for claim in data.get("claims") or []}
    for item, answer in (data.get("checklist") or {}).items():
        evidence = answer.get("evidence")
        if evidence and evidence not in paths and evidence not in metrics:
            errors.setdefault("checklist", {})[item] = {
                "evidence": [f"{evidence!r} names neither a file of the manifest nor a claimed metric"]
            }
    return errors


def canonical_manifest(manifest: dict) -> dict:
    """Validate and normalise a manifest (raises ValidationError); files are ordered by path."""
    loaded = ManifestSchema().load(manifest)
    loaded["files"] = sorted(loaded["files"], key=lambda entry: entry["path"])
    return ManifestSchema().dump(loaded)


def manifest_bytes(manifest: dict) -> bytes:
    """RFC 8785 canonical JSON of an already normalised manifest."""
    return rfc8785.dumps(manifest)


def manifest_digest(manifest: dict) -> str:
    return "sha256:" + hashlib.sha256(manifest_bytes(manifest)).hexdigest()
