"""The JSON API under /api/v1 (flask-smorest): HTTP only — parse, call a service, serialise."""

import json
import math

from flask import Flask, g, request
from flask_smorest import Api

from reproreg.errors import RegistryError
from reproreg.request_scope import current_registry, db_session
from reproreg.services.auth import ADMIN, READ, VERIFY, authenticate, record_use, require_scope, use_is_stale
from reproreg.unit_of_work import unit_of_work
from reproreg_schemas.errors import ErrorEnvelopeSchema

#: query parameters that would put a secret into URLs (and so into logs and browser history)
TOKEN_QUERY_PARAMETERS = ("token", "access_token", "api_key", "apikey", "auth")
#: the scope a token needs for each endpoint that changes state (``push:{namespace}`` is filled in from the URL;
#: ``push:*`` is any push scope). Reading (GET, HEAD, OPTIONS) needs ``read``, which every scope includes; a
#: writing endpoint missing from this table needs ``admin``, so a new endpoint is closed until it is listed here.
WRITE_SCOPES: dict[str, str] = {
    "artifacts.VersionView": "push:{namespace}",
    "artifacts.YankView": "push:{namespace}",
    "blobs.MissingBlobs": "push:*",
    "blobs.ProbeFingerprints": "push:*",
    "blobs.BlobBatch": "push:*",
    "blobs.Uploads": "push:*",
    "blobs.Upload": "push:*",
    "verifications.KeyChallenges": VERIFY,
    "verifications.Keys": VERIFY,
    "verifications.Verifications": VERIFY,
    "jobs.RequestJob": VERIFY,
    "jobs.Lease": VERIFY,
    "jobs.Heartbeat": VERIFY,
    "jobs.Fail": VERIFY,
    "workers.Worker": VERIFY,
    "release.Release": "push:{namespace}",
    "release.Pause": "push:{namespace}",
    "release.Resume": "push:{namespace}",
    "release.Advance": "push:{namespace}",
    "release.ReviewLinks": "push:{namespace}",
    "release.ReviewLinkView": "push:{namespace}",
    "release.AccessRequests": READ,
    "release.Approve": "push:{namespace}",
    "release.Deny": "push:{namespace}",
    "release.Collaborators": "push:{namespace}",
    "release.CollaboratorView": "push:{namespace}",
}
#: how deeply a JSON request body may nest; deeper bodies are refused before any schema sees them
MAX_JSON_DEPTH = 64


class RegistryApi(Api):
    """flask-smorest, documenting the error envelope the registry really answers with."""

    ERROR_SCHEMA = ErrorEnvelopeSchema


def register_api(app: Flask) -> Api:
    app.config.setdefault("API_TITLE", "Reproducibility Registry")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = RegistryApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}})
    from reproreg.api import artifacts, blobs, jobs, links, users, venues, verifications, workers
    from reproreg.api import release as releasing

    blueprints = (users.blp, blobs.blp, artifacts.blp, verifications.blp, jobs.blp, venues.blp, workers.blp,
                  links.blp, releasing.blp)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    names = {blueprint.name for blueprint in blueprints}

    @app.before_request
    def _authenticate():
        if request.blueprint in names:
            allow_manifest_bodies()
            check_json_body()
            authenticate_request()

    @app.after_request
    def _cache_control(response):
        return private_when_authenticated(response) if request.blueprint in names else response

    return api


def allow_manifest_bodies() -> None:
    """A version's manifest (up to 100,000 file entries) may be larger than other JSON bodies; the limit must be
    set before the body is read."""
    if request.method == "PUT" and request.blueprint == "artifacts":
        request.max_content_length = current_registry().settings.max_manifest_bytes


def check_json_body() -> None:
    """Refuse a JSON body nested deeper than MAX_JSON_DEPTH (at a few thousand levels the parser itself gives up),
    holding a lone surrogate (text with no UTF-8 form) or NaN/Infinity (not JSON): each would fail later, when the
    data is validated, stored, signed or shown. Invalid JSON is left to the schema parser, which reports it."""
    if not request.is_json:
        return
    try:
        data = json.loads(request.get_data(cache=True), parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep() from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return
    except ValueError as err:  # NaN, Infinity, 1e999, an integer of more than 4300 digits
        raise RegistryError("BAD_REQUEST", f"the JSON body holds a number this registry cannot hold: {err}") from None
    _check_parsed_json(data)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text[:40]} is too large for a double")
    return number


def _too_deep() -> RegistryError:
    return RegistryError("BAD_REQUEST", f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep",
                         limit=MAX_JSON_DEPTH)


def _check_parsed_json(data) -> None:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and not _is_encodable(value):
            raise RegistryError("BAD_REQUEST", "the JSON body holds a lone UTF-16 surrogate (\\ud800 to \\udfff), "
                                "which is not text")


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def authenticate_request() -> None:
    leaked = [name for name in TOKEN_QUERY_PARAMETERS if name in request.args]
    if leaked:
        raise RegistryError("TOKEN_IN_URL", "tokens are never accepted in URLs; send 'Authorization: Bearer "
                            "<token>' instead, and revoke a token that was put in a URL", parameters=leaked)
    token = authenticate(db_session(), request.headers.get("Authorization"))
    g.user = token.user if token is not None else None
    require_scope(token, needed_scope())
    if token is not None and use_is_stale(token):
        with unit_of_work(current_registry().sessions) as session:
            record_use(session, token.id)


def needed_scope() -> str:
    """The scope this request needs (see WRITE_SCOPES)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return READ
    needed = WRITE_SCOPES.get(request.endpoint or "", ADMIN)
    if "{namespace}" in needed:
        needed = needed.replace("{namespace}", (request.view_args or {}).get("namespace", "*"))
    return needed


def private_when_authenticated(response):
    if request.headers.get("Authorization"):
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Authorization")
    return response


def current_user():
    return g.get("user")
