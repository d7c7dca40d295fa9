"""Artifacts, versions, publishing and blob downloads."""

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from reproreg import urls
from reproreg.api import current_user
from reproreg.api.blobs import blob_response
from reproreg.api.listings import list_arguments, next_link
from reproreg.errors import RegistryError
from reproreg.request_scope import current_registry, db_session
from reproreg.services import catalog
from reproreg.services import publish as publishing
from reproreg.services.access import fetchable_artifact, readable_artifact
from reproreg.services.versions import (
    artifact_document,
    artifact_holds_blob,
    resolve_version,
    version_document,
)
from reproreg.unit_of_work import retrying_lost_races
from reproreg_schemas.api import ArtifactSchema, PublishRequestSchema, VersionSchema, YankRequestSchema
from reproreg_schemas.names import DIGEST_RE

blp = Blueprint("artifacts", __name__, url_prefix="/api/v1/artifacts", description="Artifacts and versions")


def base_url() -> str:
    return urls.base_url(current_registry().settings.public_url, request.host_url)


SEARCH_PARAMETERS = (("q", "string", "words of the name, title, paper, venue or metric names (each a prefix)"),
                     ("venue", "string", "the venue the latest version names"),
                     ("metric", "string", "a metric the latest version claims"),
                     ("state", "string", "only entries in this badge state"),
                     ("cursor", "string", "the next page, from the Link header (rel=next) or 'next'"),
                     ("limit", "integer", f"entries per page (default {catalog.PAGE_SIZE}, "
                                          f"at most {catalog.MAX_PAGE_SIZE})"))


@blp.route("")
class ArtifactList(MethodView):
    @blp.doc(parameters=[{"in": "query", "name": name, "schema": {"type": kind}, "description": text}
                         for name, kind, text in SEARCH_PARAMETERS],
             responses={"200": {"description": "a page of entries: {entries: [...], total, next}"}})
    def get(self):
        """Search: the latest readable version of each matching artifact with its badge states, by name."""
        state, cursor, limit = list_arguments()
        args = {key: request.args.get(key, "").strip() for key in ("q", "venue", "metric")}
        page = catalog.search(current_registry(), db_session(), current_user(), args["q"], args["venue"],
                              args["metric"], state, cursor, limit)
        kept = {key: value for key, value in (*args.items(), ("state", state), ("limit", limit)) if value}
        headers = next_link(page, lambda following: base_url() + url_for("artifacts.ArtifactList",
                                                                         cursor=following, **kept))
        entries = [{**entry, "published_at": entry["published_at"].isoformat()} for entry in page.entries]
        return {"entries": entries, "total": page.total, "next": page.next_cursor}, 200, headers


@blp.route("/<namespace>/<name>")
class ArtifactView(MethodView):
    @blp.response(200, ArtifactSchema)
    def get(self, namespace, name):
        """An artifact and all its versions, newest first."""
        session = db_session()
        return artifact_document(session, readable_artifact(session, current_user(), f"{namespace}/{name}"))


@blp.route("/<namespace>/<name>/versions/<reference>")
class VersionView(MethodView):
    @blp.response(200, VersionSchema)
    def get(self, namespace, name, reference):
        """A version by number, by digest (sha256:…) or latest, with its manifest."""
        session = db_session()
        artifact = readable_artifact(session, current_user(), f"{namespace}/{name}")
        return version_document(resolve_version(session, artifact, reference), base_url())

    @blp.arguments(PublishRequestSchema)
    @blp.response(200, VersionSchema)
    @blp.alt_response(201, schema=VersionSchema, description="the version was created")
    def put(self, body, namespace, name, reference):
        """Publish a version. Identical content again is a no-op (200); other content is refused (409)."""
        session = db_session()
        row, created = retrying_lost_races(session, lambda: publishing.publish(
            current_registry(), session, current_user(), f"{namespace}/{name}", reference, body["manifest"],
            body["release"]["visibility"]))
        return {**version_document(row, base_url()), "created": created}, 201 if created else 200


@blp.route("/<namespace>/<name>/versions/<reference>/yank")
class YankView(MethodView):
    @blp.arguments(YankRequestSchema)
    @blp.response(200, VersionSchema)
    def post(self, body, namespace, name, reference):
        """Yank a version: it stays resolvable but is marked, and is never 'latest'."""
        row = publishing.yank(db_session(), current_user(), f"{namespace}/{name}", reference, body["reason"])
        return version_document(row, base_url())


@blp.route("/<namespace>/<name>/blobs/<digest>")
class BlobView(MethodView):
    @blp.doc(responses={"200": {"description": "the blob's bytes"}, "206": {"description": "a byte range"},
                        "307": {"description": "object storage: a short-lived presigned URL of the bytes"}})
    def get(self, namespace, name, digest):
        """Download a blob of one of the artifact's versions; supports Range for resuming."""
        registry = current_registry()
        session = db_session()
        artifact = fetchable_artifact(session, current_user(), f"{namespace}/{name}")
        if not DIGEST_RE.fullmatch(digest) or not artifact_holds_blob(session, artifact, digest):
            raise RegistryError("NOT_FOUND", f"{artifact.full_name} has no blob {digest}", digest=digest)
        return blob_response(registry, digest)
