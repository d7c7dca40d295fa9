"""HTTP only: read the request, call the services, render a template, an image or an export."""

import csv
import io
import json

from flask import Blueprint, Response, abort, current_app, render_template, request, stream_with_context, url_for

from reproreg import unit_of_work, urls
from reproreg.errors import RegistryError
from reproreg.request_scope import current_registry, db_session
from reproreg.services import catalog, venues
from reproreg.services.access import readable_artifact
from reproreg.services.auth import authenticate
from reproreg.services.badges import badge_states
from reproreg.services.catalog import badge_lookup
from reproreg.services.verifications import verification_document, verifications_of
from reproreg.services.versions import artifact_document, resolve_version, training_config_text
from reproreg.web import badges
from reproreg.web.presenters import (
    claims_table,
    community_summary,
    pull_command,
    split_by_trust,
    training_view,
    with_verdicts,
)
from reproreg_schemas.units import exact_number
from reproreg_schemas.vocabulary import BadgeKind, ChecklistState, ReproducedState, values

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/-/static")

BADGE_CACHE_SECONDS = 300
#: changes when the badge drawing changes, so that caches holding old images ask again
BADGE_ETAG_FORMAT = "b1"

# the badge states the templates compare with
bp.add_app_template_global(ReproducedState, "ReproducedState")
bp.add_app_template_global(ChecklistState, "ChecklistState")
# claimed and measured values, written so that they read back as the same numbers (never rounded)
bp.add_app_template_filter(exact_number, "exact")


def public_base() -> str:
    """The base of the absolute URLs this request hands out (see reproreg.urls)."""
    return urls.base_url(current_registry().settings.public_url, request.host_url)


def viewer():
    """Pages are public; a bearer token (e.g. from a script) lets an owner see their private entries."""
    try:
        token = authenticate(db_session(), request.headers.get("Authorization"))
        return token.user if token is not None else None
    except RegistryError:
        return None


@bp.after_request
def page_headers(response):
    response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                                           "style-src 'self'; script-src 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.headers.get("Authorization"):
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/")
def home():
    args = {key: request.args.get(key, "").strip() for key in ("q", "venue", "metric", "state")}
    searching = any(args.values())
    session, ctx, user = db_session(), current_registry(), viewer()
    page, error = catalog.Page(total=0), None
    if searching:
        try:
            page = catalog.search(ctx, session, user, args["q"], args["venue"], args["metric"], args["state"],
                                  cursor=request.args.get("cursor"))
        except RegistryError as err:
            error = err.message
    next_url = url_for("web.home", **{k: v for k, v in args.items() if v}, cursor=page.next_cursor) \
        if page.next_cursor else None
    return render_template("home.html", args=args, searching=searching, results=page.entries, total=page.total,
                           next_url=next_url, error=error,
                           recent=[] if searching else catalog.recent(ctx, session, user),
                           states=list(catalog.STATE_FILTERS), count_cap=catalog.COUNT_CAP)


@bp.get("/<namespace:namespace>/<name>")
def artifact_page(namespace, name):
    session = db_session()
    artifact = _readable(f"{namespace}/{name}")
    document = artifact_document(session, artifact)
    latest = resolve_version(session, artifact, None) if document["latest"] else None
    return render_template("artifact.html", artifact=document,
                           latest=badge_states(current_registry(), session, latest) if latest else None,
                           latest_title=latest.title if latest else None, release=_release(session, artifact))


def _release(session, artifact) -> dict:
    from reproreg.services import release
    from reproreg.services.access import can_fetch
    from reproreg.web.presenters import release_view

    return release_view(release.release_document(session, artifact), artifact.full_name,
                        can_fetch(session, viewer(), artifact))


@bp.get("/<namespace:namespace>/<name>/<reference>")
def version_page(namespace, name, reference):
    session, ctx = db_session(), current_registry()
    artifact = _readable(f"{namespace}/{name}")
    try:
        version = resolve_version(session, artifact, reference)
    except RegistryError:
        abort(404)
    manifest = json.loads(version.manifest)
    recorded = [verification_document(v) for v in verifications_of(session, version)]
    manifest_claims = manifest.get("claims") or []
    trusted, community, authors = ([with_verdicts(v, manifest_claims) for v in group]
                                   for group in split_by_trust(recorded))
    states = badge_states(ctx, session, version)
    base = public_base()
    return render_template(
        "version.html", version=version, manifest=manifest, states=states,
        history=trusted, community_reports=community, authors_runs=authors,
        community=community_summary(states["community"]),
        claims=claims_table(manifest.get("claims") or [], trusted),
        pull=pull_command(base, artifact.full_name, version.version),
        training=training_view(version.training_config, (version.training or {}).get("config"),
                               training_config_text(ctx.blobs, ctx.settings, version)),
        checklist=_checklist(version),
        badge_src=url_for("web.version_badge", namespace=namespace, name=name, version=version.version,
                          ext="svg"),
        badge_url=urls.badge_url(base, artifact.full_name, version.version),
        release=_release(session, artifact), **_accountable_records(session, artifact, version))


@bp.get("/review/<secret>")
def review_page(secret):
    """A version through an anonymous review link (no account: the secret is the credential), anonymised."""
    from reproreg.services import review_links
    from reproreg.unit_of_work import unit_of_work

    try:
        link, version = review_links.holder_version(db_session(), secret)
    except RegistryError:
        abort(404)
    with unit_of_work(current_registry().sessions) as writer:
        review_links.record_use(writer, link.id, "page")
    response = Response(render_template("review.html", doc=review_links.review_document(
        link, version, public_base(), secret)))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/review/<secret>/badge.<any(svg, json):ext>")
def review_badge(secret, ext):
    """The badge of a review link's version, drawn from its stored states: no name in it (the label is the badge
    kind, never the artifact's). Each fetch is a use of the link; never cached outside the holder's browser."""
    from reproreg.services import review_links
    from reproreg.unit_of_work import unit_of_work

    kind, refusal = _badge_kind(ext)
    if refusal is not None:
        return refusal
    try:
        link, version = review_links.holder_version(db_session(), secret)
    except RegistryError:
        abort(404)
    with unit_of_work(current_registry().sessions) as writer:
        review_links.record_use(writer, link.id, f"badge ({ext})")
    states = badge_states(current_registry(), db_session(), version)
    response = Response(badges.drawn(tuple(states[column] for column in badges.DRAWN_FROM), kind, ext),
                        mimetype="image/svg+xml" if ext == "svg" else "application/json")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _accountable_records(session, artifact, version) -> dict:
    """The version's typed links (both ways), the artifact's public audit log, and its training compute."""
    from reproreg.services import audit, links
    from reproreg.web.presenters import compute_view

    user = viewer()
    return {"links": {"outgoing": links.outgoing(session, user, artifact, version),
                      "incoming": links.incoming(session, user, artifact)},
            "audit_log": audit.artifact_log(session, artifact.full_name, limit=50),
            "audit_api": urls.api_url(public_base(), f"/artifacts/{artifact.full_name}/audit"),
            "carbon": compute_view((version.training or {}).get("compute"))}


def _checklist(version):
    from reproreg_schemas.checklist import ITEMS

    warnings = {w["item"]: w["message"] for w in version.checklist_warnings or []}
    answers = {a.item: a for a in version.checklist_answers}
    return [{"item": item, "text": text, "answer": answers[item].answer if item in answers else "not answered",
             "justification": answers[item].justification if item in answers else "",
             "evidence": answers[item].evidence if item in answers else None, "warning": warnings.get(item)}
            for item, text in ITEMS.items()]


def _readable(full_name):
    try:
        return readable_artifact(db_session(), viewer(), full_name)
    except RegistryError:
        abort(404)


# --- venues -----------------------------------------------------------------------------------------------
@bp.get("/venues/<slug>")
def venue_page(slug):
    session, ctx, user = db_session(), current_registry(), viewer()
    try:
        venue = venues.get_venue(session, slug)
    except RegistryError:
        venue = None
    if venue is None and not catalog.venue_has_entries(session, user, slug):
        abort(404)
    state = request.args.get("state", "").strip()
    try:
        page, error = catalog.venue_entries(ctx, session, user, slug, state, request.args.get("cursor")), None
    except RegistryError as err:
        page, error = catalog.venue_entries(ctx, session, user, slug), err.message
        state = ""
    next_url = url_for("web.venue_page", slug=slug, **({"state": state} if state else {}),
                       cursor=page.next_cursor) if page.next_cursor else None
    return render_template("venue.html", slug=slug, venue=venue, members=venues.members(venue) if venue else [],
                           entries=page.entries, total=page.total, state=state, error=error, next_url=next_url,
                           states=list(catalog.STATE_FILTERS), count_cap=catalog.COUNT_CAP)


@bp.get("/venues/<slug>.<any(csv, json):ext>")
def venue_export(slug, ext):
    base, user = public_base(), viewer()
    # A session of the export's own, closed when the body ends or the client goes away: the request's session is
    # closed before the body is read, and reusing it would hold a pooled connection until garbage collection.
    session = unit_of_work.read_only(current_registry().sessions())
    rows = (_export_row(base, entry) for entry in catalog.all_venue_entries(session, user, slug))  # query built now
    body = _json_export(base, slug, rows) if ext == "json" else _csv_export(rows)
    response = Response(stream_with_context(_closing(session, body)),
                        mimetype="application/json" if ext == "json" else "text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}.{ext}"'
    return response


def _closing(session, body):
    try:
        yield from body
    finally:
        session.close()


def _export_row(base: str, entry: dict) -> dict:
    row = {column: entry.get(column) for column in catalog.EXPORT_COLUMNS}
    row["url"] = urls.version_url(base, entry["name"], entry["version"])
    row["published_at"] = entry["published_at"].isoformat()
    return row


def _csv_export(rows):
    """The CSV, written as it is read from the database (a few hundred rows at a time)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=catalog.EXPORT_COLUMNS)
    writer.writeheader()
    for count, row in enumerate(rows, 1):
        writer.writerow(row)
        if count % catalog.EXPORT_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_export(base: str, slug: str, rows):
    """``{"venue": ..., "url": ..., "entries": [...]}``, streamed one entry at a time."""
    yield json.dumps({"venue": slug, "url": urls.venue_url(base, slug)})[:-1] + ', "entries": ['
    for count, row in enumerate(rows):
        yield ("," if count else "") + "\n  " + json.dumps(row)
    yield "\n]}\n"


# --- badges -----------------------------------------------------------------------------------------------
def _badge_row(namespace, name, reference):
    """The version's stored states (with its revision), or None for anything unknown or not visible: a grey
    badge, never an error or a leak. One indexed query."""
    try:
        if not request.headers.get("Authorization"):  # anonymous: no session, no token lookup, no transaction
            return catalog.public_badge_lookup(current_registry().engine, namespace, name, reference)
        return badge_lookup(db_session(), viewer(), namespace, name, reference)
    except RegistryError:
        return None


def _badge_kind(ext):
    """The ``kind`` asked for (combined when absent); an unknown one is refused with a 400 naming the kinds."""
    kind = request.args.get("kind", "")
    if kind in ("", *values(BadgeKind)):
        return BadgeKind(kind or BadgeKind.COMBINED), None
    message = f"unknown badge kind {kind[:100]!r}: kind must be one of {', '.join(values(BadgeKind))}"
    if ext == "json":
        refusal = current_app.response_class(json.dumps({"error": {
            "code": "BAD_REQUEST", "message": message,
            "details": {"problems": {"kind": [f"must be one of {', '.join(values(BadgeKind))}"]}}}}),
            status=400, mimetype="application/json")
    else:
        refusal = Response(message + "\n", status=400, mimetype="text/plain")
    refusal.headers["Cache-Control"] = "no-store"
    return None, refusal


def _badge_response(namespace, name, reference, ext):
    """The ETag is the version and revision of its stored states (not a hash of the body): a matching
    If-None-Match is answered 304 after one indexed lookup, before any image is drawn."""
    kind, refusal = _badge_kind(ext)
    if refusal is not None:
        return refusal
    row = _badge_row(namespace, name, reference)
    tag = f"{BADGE_ETAG_FORMAT}.{row.id}.{row.revision}" if row is not None else f"{BADGE_ETAG_FORMAT}.unknown"
    tag = f"{tag}.{kind}.{ext}"
    cache = "private, no-store" if request.headers.get("Authorization") else f"public, max-age={BADGE_CACHE_SECONDS}"
    if request.if_none_match.contains(tag):
        response = Response(status=304)
    else:
        states = None if row is None else tuple(getattr(row, column) for column in badges.DRAWN_FROM)
        response = Response(badges.drawn(states, kind, ext),
                            mimetype="image/svg+xml" if ext == "svg" else "application/json")
    response.set_etag(tag)
    response.headers["Cache-Control"] = cache
    return response


@bp.get("/badges/<namespace>/<name>.<any(svg, json):ext>")
def latest_badge(namespace, name, ext):
    return _badge_response(namespace, name, None, ext)


@bp.get("/badges/<namespace>/<name>/<version>.<any(svg, json):ext>")
def version_badge(namespace, name, version, ext):
    return _badge_response(namespace, name, version, ext)


# --- API documentation ------------------------------------------------------------------------------------
@bp.get("/api/v1/docs")
def api_docs():
    spec = current_app.extensions["registry-api"].spec.to_dict()
    return render_template("docs.html", spec=spec, api_url=urls.api_url(public_base()))
