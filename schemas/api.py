"""Request and response bodies of the JSON API under /api/v1."""

from marshmallow import ValidationError, fields, validate, validates

from reproreg_schemas.manifest import ReleaseSchema
from reproreg_schemas.messages import Schema
from reproreg_schemas.names import validate_digest
from reproreg_schemas.vocabulary import Visibility, values

#: digests (or fingerprints) per missing-blob or probe request; clients ask in batches of at most this many
MAX_DIGESTS_PER_QUERY = 10000
#: files in one version; a manifest listing more is refused
MAX_FILES_PER_VERSION = 100_000

#: POST /blobs/batch: small blobs sent in one request, each framed as ``<digest> <size>\n`` then its bytes
BATCH_MAX_BLOB_BYTES = 1 << 20
BATCH_MAX_BLOBS = 1000
BATCH_MAX_BODY_BYTES = 32 << 20


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


class BlobBatchResultSchema(Schema):
    stored = fields.List(fields.String(), metadata={"description": "the digests of the batch, in order, every one "
                                                                   "verified and stored"})
    bytes = fields.Integer()


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
    multipart = fields.Dict(metadata={"description": "present when the bytes go straight to the object store: "
                                                     "part_size and parts; ask for part URLs with POST …/parts"})
    status = fields.String(metadata={"description": "receiving, verifying (assembled in the object store and being "
                                                    "hashed by the registry: poll this upload), complete, or failed"})
    error = fields.Dict(metadata={"description": "when failed: the error (code, message, details); the upload's "
                                                 "bytes were deleted"})


class AnnouncedPartSchema(Schema):
    number = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10000))
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    sha256 = fields.String(required=True, validate=validate.Length(equal=44),
                           metadata={"description": "base64 of the part's SHA-256, as x-amz-checksum-sha256"})


class PartsRequestSchema(Schema):
    parts = fields.List(fields.Nested(AnnouncedPartSchema), required=True, validate=validate.Length(min=1, max=10000))


class PartUrlSchema(Schema):
    number = fields.Integer()
    url = fields.String()


class PartsResponseSchema(Schema):
    id = fields.String()
    part_size = fields.Integer()
    parts = fields.List(fields.Nested(PartUrlSchema), metadata={
        "description": "PUT each part's bytes to its URL with the header x-amz-checksum-sha256 and no Authorization"})
    stored = fields.List(fields.Integer(), metadata={"description": "parts the object store already holds"})
    expires_in = fields.Integer()


class UploadCompleteSchema(Schema):
    digest = fields.String(load_default=None, allow_none=True, validate=validate_digest)


class PublishRequestSchema(Schema):
    manifest = fields.Dict(required=True)
    release = fields.Nested(ReleaseSchema, load_default=lambda: {"visibility": Visibility.PUBLIC.value})

    @validates("manifest")
    def _bounded_file_count(self, manifest, **kwargs):
        files = manifest.get("files")
        if isinstance(files, list) and len(files) > MAX_FILES_PER_VERSION:
            raise ValidationError(f"a version may have at most {MAX_FILES_PER_VERSION} files, not {len(files)}; "
                                  "split the artifact, or pack small files into an archive")


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
    visibility = fields.String(validate=validate.OneOf(values(Visibility)))
    published_by = fields.String()
    url = fields.String()
    manifest = fields.Dict()
    checklist_warnings = fields.List(fields.Dict())
    training_config = fields.Raw(allow_none=True)
    claimed_hardware = fields.List(fields.Dict(), metadata={
        "description": "each claim's metric, dataset and the hardware it was measured on (null: not named)"})
    gpu_required = fields.Dict(allow_none=True, metadata={
        "description": "the GPU the evaluation needs: min_memory_gb and model (either may be null); null: "
                       "none in particular"})
    created = fields.Boolean()


class ArtifactSchema(Schema):
    name = fields.String()
    visibility = fields.String(validate=validate.OneOf(values(Visibility)))
    created_at = fields.DateTime()
    latest = fields.String(allow_none=True)
    versions = fields.List(fields.Nested(VersionSummarySchema))
