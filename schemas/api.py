"""Request and response bodies of the JSON API under /api/v1."""

from marshmallow import Schema, fields, validate

from schemas.manifest import ReleaseSchema
from schemas.names import validate_digest

MAX_DIGESTS_PER_QUERY = 10000


class WhoAmISchema(Schema):
    name = fields.String()
    namespaces = fields.List(fields.String())


class MissingBlobsRequestSchema(Schema):
    digests = fields.List(fields.String(validate=validate_digest), required=True,
                          validate=validate.Length(max=MAX_DIGESTS_PER_QUERY))


class MissingBlobsResponseSchema(Schema):
    missing = fields.List(fields.String())


class FingerprintProbeSchema(Schema):
    fingerprints = fields.List(fields.String(validate=validate_digest), required=True,
                               validate=validate.Length(max=MAX_DIGESTS_PER_QUERY))


class KnownFingerprintsSchema(Schema):
    known = fields.List(fields.String())


class UploadCreateSchema(Schema):
    digest = fields.String(load_default=None, allow_none=True, validate=validate_digest,
                           metadata={"description": "omit to hash while streaming, then finalise with the digest"})
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    fingerprint = fields.String(load_default=None, allow_none=True, validate=validate_digest)


class UploadFinalizeSchema(Schema):
    digest = fields.String(required=True, validate=validate_digest)


class UploadStateSchema(Schema):
    id = fields.String(allow_none=True)
    digest = fields.String(allow_none=True)
    size = fields.Integer()
    offset = fields.Integer()
    complete = fields.Boolean()


class PublishRequestSchema(Schema):
    manifest = fields.Dict(required=True)
    release = fields.Nested(ReleaseSchema, load_default=lambda: {"visibility": "public"})


class YankRequestSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class VersionSummarySchema(Schema):
    version = fields.String()
    digest = fields.String()
    published_at = fields.DateTime()
    yanked = fields.Boolean()
    yank_reason = fields.String(allow_none=True)


class VersionSchema(VersionSummarySchema):
    name = fields.String()
    visibility = fields.String()
    published_by = fields.String()
    url = fields.String()
    manifest = fields.Dict()
    checklist_warnings = fields.List(fields.Dict())
    training_config = fields.Raw(allow_none=True)
    created = fields.Boolean()


class ArtifactSchema(Schema):
    name = fields.String()
    visibility = fields.String()
    created_at = fields.DateTime()
    latest = fields.String(allow_none=True)
    versions = fields.List(fields.Nested(VersionSummarySchema))
