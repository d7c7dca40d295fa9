"""Blob queries and resumable uploads."""

from flask import Response, current_app, redirect, request
from flask.views import MethodView
from flask_smorest import Blueprint

from reproreg.api import current_user
from reproreg.context import RegistryContext
from reproreg.errors import RegistryError
from reproreg.models.storage import VERIFYING
from reproreg.request_scope import current_registry, db_session
from reproreg.services import batch_uploads, multipart, uploads
from reproreg.unit_of_work import after_commit
from reproreg_schemas.api import (
    BATCH_MAX_BLOB_BYTES,
    BATCH_MAX_BLOBS,
    BATCH_MAX_BODY_BYTES,
    BlobBatchResultSchema,
    FingerprintProbeSchema,
    KnownFingerprintsSchema,
    MissingBlobsRequestSchema,
    MissingBlobsResponseSchema,
    PartsRequestSchema,
    PartsResponseSchema,
    UploadCompleteSchema,
    UploadCreateSchema,
    UploadFinalizeSchema,
    UploadStateSchema,
)

blp = Blueprint("blobs", __name__, url_prefix="/api/v1", description="Content-addressed blobs and uploads")

STREAM_CHUNK = 1 << 20  # one read of the request body: gunicorn reads at most 1 MiB from its socket at once


def presigned_download(registry: RegistryContext, digest: str) -> Response | None:
    """For a blob in object storage, a redirect to a short-lived presigned GET URL (Range requests go to it as
    they are); None when the registry serves the bytes itself. Call it only once access has been checked."""
    url = registry.blobs.presigned_read_url(digest, registry.settings.presign_expiry_s)
    if url is None:
        return None
    response = redirect(url, code=307)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Digest"] = digest
    return response


def blob_response(registry: RegistryContext, digest: str, private: bool = False) -> Response:
    """A committed blob for a reader whose access has been checked: a redirect to the object store where it
    presigns, else the bytes (``Range`` honoured). ``private``: never cached (a review link's files)."""
    size = registry.blobs.size(digest)
    if size is None:
        raise RegistryError("NOT_FOUND", f"blob {digest} is missing from storage", digest=digest)
    presigned = presigned_download(registry, digest)  # object storage: the store sends the bytes, not this process
    if presigned is not None:
        return presigned
    start, stop, status = 0, size, 200
    if request.range is not None:
        bounds = request.range.range_for_length(size)
        if bounds is None:
            raise RegistryError("INVALID_RANGE", f"the range is not satisfiable for {size} bytes", size=size)
        (start, stop), status = bounds, 206
    response = Response(_limited(registry.blobs.read(digest, start), stop - start), status=status,
                        mimetype="application/octet-stream", direct_passthrough=True)
    response.content_length = stop - start
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["X-Content-Digest"] = digest
    if private:
        response.headers["Cache-Control"] = "private, no-store"
    else:
        response.set_etag(digest)
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return response


def _limited(chunks, length: int):
    remaining = length
    for chunk in chunks:
        if remaining <= 0:
            break
        yield chunk[:remaining]
        remaining -= len(chunk)


def _require_user():
    user = current_user()
    if user is None:
        raise RegistryError("UNAUTHORIZED", "uploading needs a token: run 'regctl login' or set REGCTL_TOKEN")
    return user


@blp.route("/blobs/missing")
class MissingBlobs(MethodView):
    @blp.arguments(MissingBlobsRequestSchema)
    @blp.response(200, MissingBlobsResponseSchema)
    def post(self, body):
        """Which of these digests the caller still has to upload."""
        return {"missing": uploads.missing_blobs(db_session(), _require_user(), body["digests"])}


@blp.route("/blobs/probe")
class ProbeFingerprints(MethodView):
    @blp.arguments(FingerprintProbeSchema)
    @blp.response(200, KnownFingerprintsSchema)
    def post(self, body):
        """Which fingerprints match content the caller holds or is uploading (so it should hash first)."""
        return {"known": uploads.known_fingerprints(db_session(), _require_user(), body["fingerprints"])}


@blp.route("/blobs/batch")
class BlobBatch(MethodView):
    @blp.response(200, BlobBatchResultSchema)
    @blp.doc(description=(
        f"Upload up to {BATCH_MAX_BLOBS} small blobs (each at most {BATCH_MAX_BLOB_BYTES} bytes, the body at most "
        f"{BATCH_MAX_BODY_BYTES} bytes) in one request. The body is a sequence of frames, each the line "
        "`sha256:<64 hex> <size>\\n` followed by exactly size bytes. Every blob is hashed as it arrives; the batch is "
        "committed only if every blob matches its digest, otherwise nothing of it is stored."),
        requestBody={"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}})
    def post(self):
        """Upload many small blobs at once, all or nothing."""
        user = _require_user()
        request.max_content_length = BATCH_MAX_BODY_BYTES
        if request.content_length is None:
            raise RegistryError("BAD_REQUEST", "send the batch with a Content-Length")
        return batch_uploads.store_batch(current_registry(), db_session(), user, request.stream)


@blp.route("/uploads")
class Uploads(MethodView):
    @blp.arguments(UploadCreateSchema)
    @blp.response(200, UploadStateSchema)
    def post(self, body):
        """Start or resume the upload of one blob. complete is true when nothing needs sending."""
        return uploads.start_upload(current_registry(), db_session(), _require_user(), body["digest"], body["size"],
                                    body["fingerprint"])


def _request_chunks():
    """The request body in blocks of STREAM_CHUNK bytes. With a Content-Length the blocks come straight from the
    WSGI input, never read past that length (werkzeug's guarded request.stream copies each block twice more and
    allocates a fresh buffer for each: it cost more than the bytes' transport under gunicorn); a chunked body,
    which the server ends itself, goes through request.stream and its max_content_length guard."""
    length = request.content_length
    if length is None:
        stream = request.stream
        while chunk := stream.read(STREAM_CHUNK):
            yield chunk
        return
    if request.max_content_length is not None and length > request.max_content_length:
        raise RegistryError("PAYLOAD_TOO_LARGE", f"the body is over the limit of {request.max_content_length} bytes")
    source = request.environ["wsgi.input"]
    while length > 0:
        chunk = source.read(min(STREAM_CHUNK, length))
        if not chunk:  # the client went away: what arrived is kept, and the upload resumes from there
            return
        length -= len(chunk)
        yield chunk


def _upload_offset_header() -> int:
    raw = request.headers.get("Upload-Offset")
    if raw is None or not raw.isdigit():
        raise RegistryError("BAD_REQUEST", "send the header 'Upload-Offset: <bytes already stored>'")
    return int(raw)


@blp.route("/uploads/<upload_id>")
class Upload(MethodView):
    @blp.response(200, UploadStateSchema)
    def get(self, upload_id):
        """How far an upload has got: resume from offset. A verifying upload is polled here until it is complete
        or failed; polling one whose verification stalled (its process stopped) takes it up again."""
        registry = current_registry()
        state = uploads.upload_state(registry, uploads.get_upload(db_session(), _require_user(), upload_id))
        verifier = current_app.extensions.get("blob-verifier")
        if state.get("status") == VERIFYING and verifier is not None:
            verifier.resume_stalled(state["id"])
        return state

    @blp.response(200, UploadStateSchema)
    @blp.doc(requestBody={"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                               "format": "binary"}}}},
             parameters=[{"in": "header", "name": "Upload-Offset", "required": True,
                          "schema": {"type": "integer", "minimum": 0},
                          "description": "how many bytes of the upload the registry already holds"}])
    def patch(self, upload_id):
        """Append bytes at Upload-Offset; the blob is verified and committed when the last byte arrives."""
        # Uploads are bounded by the blob size limit (and by the session's declared size while streaming).
        request.max_content_length = current_registry().settings.max_blob_bytes
        return uploads.append_upload(current_registry(), db_session(), _require_user(), upload_id,
                                     _upload_offset_header(), _request_chunks(), request.content_length)

    @blp.arguments(UploadFinalizeSchema)
    @blp.response(200, UploadStateSchema)
    def put(self, body, upload_id):
        """Finalise an upload started without a digest: commit it if its bytes hash to digest."""
        return uploads.finalize_upload(current_registry(), db_session(), _require_user(), upload_id, body["digest"])

    @blp.response(204)
    def delete(self, upload_id):
        """Abandon an upload and discard its bytes."""
        uploads.cancel_upload(current_registry(), db_session(), _require_user(), upload_id)


@blp.route("/uploads/<upload_id>/parts")
class UploadParts(MethodView):
    @blp.arguments(PartsRequestSchema)
    @blp.response(200, PartsResponseSchema)
    def post(self, body, upload_id):
        """Announce parts (number, size, base64 SHA-256) of an upload that goes straight to the object store;
        get a presigned URL for each part it does not hold yet."""
        return multipart.presign_parts(current_registry(), db_session(), _require_user(), upload_id, body["parts"])


@blp.route("/uploads/<upload_id>/complete")
class CompleteUpload(MethodView):
    @blp.arguments(UploadCompleteSchema)
    @blp.response(200, UploadStateSchema)
    @blp.alt_response(202, schema=UploadStateSchema, description=(
        "A large upload was assembled and is being verified (status verifying): poll GET /api/v1/uploads/<id> "
        "until it is complete or failed"))
    def post(self, body, upload_id):
        """Assemble the parts sent to the object store; the blob is hashed and committed only if it matches."""
        session = db_session()
        state = multipart.complete_upload(current_registry(), session, _require_user(), upload_id, body["digest"])
        if state.get("status") != VERIFYING:
            return state
        verifier = current_app.extensions.get("blob-verifier")
        if verifier is not None:  # once the upload's state is committed: the job reads it from the database
            after_commit(session, lambda: verifier.submit(state["id"]))
        return state, 202
