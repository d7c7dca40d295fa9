"""An artifact's typed links (both directions) and the public part of its audit log."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from reproreg.api import current_user
from reproreg.request_scope import db_session
from reproreg.services import audit, links
from reproreg.services.access import readable_artifact
from reproreg_schemas.messages import Schema

blp = Blueprint("links", __name__, url_prefix="/api/v1/artifacts", description="Typed links and the audit log")


class OutgoingLinkSchema(Schema):
    type = fields.String(required=True)
    version = fields.String(required=True, metadata={"description": "the version that declares the link"})
    target = fields.String(allow_none=True, metadata={"description": "null when the reader cannot see it"})
    visible = fields.Boolean(required=True)


class IncomingLinkSchema(Schema):
    type = fields.String(required=True)
    source = fields.String(required=True)
    version = fields.String(required=True)
    yanked = fields.Boolean(required=True)


class LinksSchema(Schema):
    name = fields.String(required=True)
    outgoing = fields.List(fields.Nested(OutgoingLinkSchema), required=True)
    incoming = fields.List(fields.Nested(IncomingLinkSchema), required=True)


class AuditEntrySchema(Schema):
    seq = fields.Integer(required=True)
    time = fields.String(required=True)
    actor = fields.String(allow_none=True)
    action = fields.String(required=True)
    subject = fields.String(required=True)
    details = fields.Dict(required=True, metadata={"description": "the details that are public"})
    details_complete = fields.Boolean(required=True)
    details_sha256 = fields.String(required=True)
    prev_hash = fields.String(required=True)
    entry_hash = fields.String(required=True)


class AuditLogSchema(Schema):
    name = fields.String(required=True)
    chain = fields.String(required=True)
    entries = fields.List(fields.Nested(AuditEntrySchema), required=True)


CHAIN_RULE = ("entry_hash = SHA-256(RFC 8785 JSON of {seq, time, actor, action, subject, details_sha256, "
              "prev_hash}); prev_hash is the entry_hash of entry seq-1")


@blp.route("/<namespace>/<name>/links")
class Links(MethodView):
    @blp.response(200, LinksSchema)
    def get(self, namespace, name):
        """The links the artifact's versions declare, and those other artifacts declare to it."""
        session = db_session()
        artifact = readable_artifact(session, current_user(), f"{namespace}/{name}")
        return links.links_document(session, current_user(), artifact)


@blp.route("/<namespace>/<name>/audit")
class AuditLog(MethodView):
    @blp.response(200, AuditLogSchema)
    def get(self, namespace, name):
        """The audit log's entries about the artifact and its versions, newest first, with their hashes."""
        session = db_session()
        artifact = readable_artifact(session, current_user(), f"{namespace}/{name}")
        return {"name": artifact.full_name, "chain": CHAIN_RULE,
                "entries": audit.artifact_log(session, artifact.full_name)}
