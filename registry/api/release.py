"""Responsible release: an artifact's stage, plan, pause and risk; anonymous review links (and the routes their
holders use); gated access requests and their decisions."""

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from reproreg import urls
from reproreg.api import current_user
from reproreg.api.blobs import blob_response
from reproreg.errors import RegistryError
from reproreg.request_scope import current_registry, db_session
from reproreg.services import access_requests, collaborators, release, review_links
from reproreg.services.access import readable_artifact
from reproreg.unit_of_work import unit_of_work
from reproreg_schemas.manifest import ReleaseSchema
from reproreg_schemas.messages import Schema
from reproreg_schemas.names import DIGEST_RE
from reproreg_schemas.vocabulary import AccessRequestState, ReleaseRisk, ReleaseStage, values

blp = Blueprint("release", __name__, url_prefix="/api/v1", description="Release stages, review links and access")


def _base_url() -> str:
    return urls.base_url(current_registry().settings.public_url, request.host_url)


class ReleaseSettingsSchema(ReleaseSchema):
    """``release`` of regctl.yaml without the older ``visibility``: each field absent is left as it is."""

    class Meta:
        exclude = ("visibility",)


class PauseSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class AdvanceSchema(Schema):
    stage = fields.String(load_default=None, validate=validate.OneOf(values(ReleaseStage)))


class ReviewLinkCreateSchema(Schema):
    version = fields.String(load_default="latest", validate=validate.Length(min=1, max=200))
    expires_days = fields.Integer(load_default=30, strict=True)


class AccessRequestCreateSchema(Schema):
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class DecisionSchema(Schema):
    conditions = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))


class PlanStepStateSchema(Schema):
    stage = fields.String(required=True)
    on = fields.String(required=True, metadata={"description": "the date (UTC) the step is due"})
    reached_at = fields.String(allow_none=True)


class ReleaseDocumentSchema(Schema):
    name = fields.String(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(values(ReleaseStage)))
    risk = fields.String(required=True, validate=validate.OneOf(values(ReleaseRisk)))
    generative = fields.Boolean(required=True)
    plan = fields.List(fields.Nested(PlanStepStateSchema), required=True)
    paused = fields.Boolean(required=True)
    pause_reason = fields.String(allow_none=True, metadata={"description": "public"})
    paused_at = fields.String(allow_none=True)
    blocked = fields.List(fields.String(), required=True, metadata={
        "description": "what the ethics gate found missing when the plan's last due step could not be taken"})
    missing_for_next = fields.List(fields.String(), required=True, metadata={
        "description": "what the ethics gate lacks for the next stage"})


class LinkUseSchema(Schema):
    at = fields.String(required=True)
    what = fields.String(required=True)


class ReviewLinkSchema(Schema):
    id = fields.Integer(required=True)
    version = fields.String(required=True)
    created_at = fields.String(required=True)
    expires_at = fields.String(required=True)
    revoked_at = fields.String(allow_none=True)
    uses = fields.List(fields.Nested(LinkUseSchema), required=True)
    url = fields.String(metadata={"description": "only when created: the link itself"})
    secret = fields.String(metadata={"description": "only when created"})


class ReviewLinksSchema(Schema):
    links = fields.List(fields.Nested(ReviewLinkSchema), required=True)


class AccessRequestSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    requester = fields.String(required=True)
    purpose = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(values(AccessRequestState)))
    conditions = fields.String(allow_none=True)
    created_at = fields.String(required=True)
    decided_at = fields.String(allow_none=True)


class AccessRequestsSchema(Schema):
    requests = fields.List(fields.Nested(AccessRequestSchema), required=True)


class ReviewDocumentSchema(Schema):
    name = fields.String(required=True, metadata={"description": "an opaque name: anonymous/submission-..."})
    version = fields.String(required=True)
    digest = fields.String(required=True)
    visibility = fields.String(required=True)
    published_at = fields.String(required=True)
    yanked = fields.Boolean(required=True)
    yank_reason = fields.String(allow_none=True)
    url = fields.String(required=True)
    manifest = fields.Dict(required=True, metadata={
        "description": "anonymised: it does not hash to digest, but each file's size and sha256 are those of the "
                       "signed manifest, so every byte pulled is still checked"})
    checklist_warnings = fields.List(fields.Dict(), required=True)
    training_config = fields.Raw(allow_none=True)
    expires_at = fields.String(required=True)


@blp.route("/artifacts/<namespace>/<name>/release")
class Release(MethodView):
    @blp.response(200, ReleaseDocumentSchema)
    def get(self, namespace, name):
        """The artifact's release: stage, risk, plan, pause (with its public reason), what the gate lacks."""
        session = db_session()
        return release.release_document(session, readable_artifact(session, current_user(), f"{namespace}/{name}"))

    @blp.arguments(ReleaseSettingsSchema, required=False)
    @blp.response(200, ReleaseDocumentSchema)
    def put(self, body, namespace, name):
        """Set the risk (owner or venue chair), whether it is generative, the plan and the stage (owner)."""
        session = db_session()
        artifact = release.configure(session, current_user(), f"{namespace}/{name}", body)
        return release.release_document(session, artifact)


@blp.route("/artifacts/<namespace>/<name>/release/pause")
class Pause(MethodView):
    @blp.arguments(PauseSchema)
    @blp.response(200, ReleaseDocumentSchema)
    def post(self, body, namespace, name):
        """Hold the release plan; the reason is shown on the artifact's page."""
        session = db_session()
        artifact = release.pause(session, current_user(), f"{namespace}/{name}", body["reason"])
        return release.release_document(session, artifact)


@blp.route("/artifacts/<namespace>/<name>/release/resume")
class Resume(MethodView):
    @blp.response(200, ReleaseDocumentSchema)
    def post(self, namespace, name):
        """Let the release plan continue."""
        session = db_session()
        return release.release_document(session, release.resume(session, current_user(), f"{namespace}/{name}"))


@blp.route("/artifacts/<namespace>/<name>/release/advance")
class Advance(MethodView):
    @blp.arguments(AdvanceSchema, required=False)
    @blp.response(200, ReleaseDocumentSchema)
    def post(self, body, namespace, name):
        """Advance early, to ``stage`` or the plan's next one (the ethics gate applies)."""
        session = db_session()
        artifact = release.advance(session, current_user(), f"{namespace}/{name}", body["stage"])
        return release.release_document(session, artifact)


@blp.route("/artifacts/<namespace>/<name>/review-links")
class ReviewLinks(MethodView):
    @blp.response(200, ReviewLinksSchema)
    def get(self, namespace, name):
        """The owner's review links with every use."""
        links = review_links.links_of(db_session(), current_user(), f"{namespace}/{name}")
        return {"links": [review_links.link_document(link) for link in links]}

    @blp.arguments(ReviewLinkCreateSchema, required=False)
    @blp.response(201, ReviewLinkSchema)
    def post(self, body, namespace, name):
        """Create an anonymous review link to one version; the secret URL is shown only now."""
        link, secret = review_links.create(db_session(), current_user(), f"{namespace}/{name}", body["version"],
                                           body["expires_days"])
        return {**review_links.link_document(link), "url": f"{_base_url()}/review/{secret}", "secret": secret}, 201


@blp.route("/artifacts/<namespace>/<name>/review-links/<link_id>")
class ReviewLinkView(MethodView):
    @blp.response(200, ReviewLinkSchema)
    def delete(self, namespace, name, link_id):
        """Revoke a review link."""
        link = review_links.revoke(db_session(), current_user(), f"{namespace}/{name}",
                                   _number(link_id, "review link"))
        return review_links.link_document(link)


@blp.route("/artifacts/<namespace>/<name>/access-requests")
class AccessRequests(MethodView):
    @blp.response(200, AccessRequestsSchema)
    def get(self, namespace, name):
        """Every request (the owner) or one's own (anyone else)."""
        rows = access_requests.requests_of(db_session(), current_user(), f"{namespace}/{name}")
        return {"requests": [access_requests.request_document(row) for row in rows]}

    @blp.arguments(AccessRequestCreateSchema)
    @blp.response(201, AccessRequestSchema)
    def post(self, body, namespace, name):
        """Ask for a gated artifact's files, saying why."""
        row = access_requests.request_access(db_session(), current_user(), f"{namespace}/{name}", body["purpose"])
        return access_requests.request_document(row), 201


def _number(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise RegistryError("NOT_FOUND", f"there is no {what} {text!r}")
    return int(text)


def _decide(namespace: str, name: str, request_id: str, approve: bool, body: dict) -> dict:
    row = access_requests.decide(db_session(), current_user(), f"{namespace}/{name}",
                                 _number(request_id, "access request"), approve, body["conditions"])
    return access_requests.request_document(row)


@blp.route("/artifacts/<namespace>/<name>/access-requests/<request_id>/approve")
class Approve(MethodView):
    @blp.arguments(DecisionSchema, required=False)
    @blp.response(200, AccessRequestSchema)
    def post(self, body, namespace, name, request_id):
        """Approve a request, optionally with conditions shown to the requester."""
        return _decide(namespace, name, request_id, True, body)


@blp.route("/artifacts/<namespace>/<name>/access-requests/<request_id>/deny")
class Deny(MethodView):
    @blp.arguments(DecisionSchema, required=False)
    @blp.response(200, AccessRequestSchema)
    def post(self, body, namespace, name, request_id):
        """Deny a request."""
        return _decide(namespace, name, request_id, False, body)


class CollaboratorAddSchema(Schema):
    user = fields.String(required=True, validate=validate.Length(min=1, max=200))


class CollaboratorSchema(Schema):
    user = fields.String(required=True)
    added_at = fields.String(required=True)


class CollaboratorsSchema(Schema):
    collaborators = fields.List(fields.Nested(CollaboratorSchema), required=True)


@blp.route("/artifacts/<namespace>/<name>/collaborators")
class Collaborators(MethodView):
    @blp.response(200, CollaboratorsSchema)
    def get(self, namespace, name):
        """The artifact's collaborators (the owner only)."""
        rows = collaborators.collaborators_of(db_session(), current_user(), f"{namespace}/{name}")
        return {"collaborators": [collaborators.collaborator_document(row) for row in rows]}

    @blp.arguments(CollaboratorAddSchema)
    @blp.response(201, CollaboratorSchema)
    def post(self, body, namespace, name):
        """Name a collaborator: they read and fetch the artifact at every stage, and change nothing."""
        row = collaborators.add(db_session(), current_user(), f"{namespace}/{name}", body["user"])
        return collaborators.collaborator_document(row), 201


@blp.route("/artifacts/<namespace>/<name>/collaborators/<user>")
class CollaboratorView(MethodView):
    @blp.response(200, CollaboratorsSchema)
    def delete(self, namespace, name, user):
        """Remove a collaborator (their access ends at once); the collaborators who remain."""
        session = db_session()
        collaborators.remove(session, current_user(), f"{namespace}/{name}", user)
        rows = collaborators.collaborators_of(session, current_user(), f"{namespace}/{name}")
        return {"collaborators": [collaborators.collaborator_document(row) for row in rows]}


@blp.route("/review/<secret>")
class ReviewVersion(MethodView):
    @blp.response(200, ReviewDocumentSchema)
    def get(self, secret):
        """The version a review link shows, anonymised (no account needed: the secret is the credential)."""
        session = db_session()
        link, version = review_links.holder_version(session, secret)
        _record_use(link.id, "version document")
        return review_links.review_document(link, version, _base_url(), secret)


@blp.route("/review/<secret>/blobs/<digest>")
class ReviewBlob(MethodView):
    @blp.doc(responses={"200": {"description": "the blob's bytes"}, "206": {"description": "a byte range"}})
    def get(self, secret, digest):
        """A file of the review link's version (supports Range)."""
        registry = current_registry()
        session = db_session()
        link, version = review_links.holder_version(session, secret)
        if not DIGEST_RE.fullmatch(digest) or not review_links.holds_blob(version, digest):
            raise RegistryError("NOT_FOUND", f"this version has no blob {digest}", digest=digest)
        if review_links.counts_as_use(_range_start()):
            _record_use(link.id, f"file {digest}")
        return blob_response(registry, digest, private=True)


def _range_start() -> int:
    """Where the asked byte range starts (0 for the whole file, or a range that cannot be read)."""
    ranges = request.range.ranges if request.range is not None else None
    return ranges[0][0] if ranges and ranges[0][0] >= 0 else 0


def _record_use(link_id: int, what: str) -> None:
    """A GET reads only; the use of a review link is recorded in its own short transaction."""
    with unit_of_work(current_registry().sessions) as writer:
        review_links.record_use(writer, link_id, what)
