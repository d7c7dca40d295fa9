"""The JSON API under /api/v1 (flask-smorest): HTTP only — parse, call a service, serialise."""

from flask import Flask, g, request
from flask_smorest import Api

from registry.context import db_session
from registry.errors import RegistryError
from registry.services.auth import authenticate

#: query parameters that would put a secret into URLs (and so into logs and browser history)
TOKEN_QUERY_PARAMETERS = ("token", "access_token", "api_key", "apikey", "auth")


def register_api(app: Flask) -> Api:
    app.config.setdefault("API_TITLE", "Reproducibility Registry")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = Api(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}})
    from registry.api import artifacts, blobs, jobs, users, venues, verifications

    blueprints = (users.blp, blobs.blp, artifacts.blp, verifications.blp, jobs.blp, venues.blp)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    names = {blueprint.name for blueprint in blueprints}

    @app.before_request
    def _authenticate():
        if request.blueprint in names:
            authenticate_request()

    @app.after_request
    def _cache_control(response):
        return private_when_authenticated(response) if request.blueprint in names else response

    return api


def authenticate_request() -> None:
    leaked = [name for name in TOKEN_QUERY_PARAMETERS if name in request.args]
    if leaked:
        raise RegistryError("TOKEN_IN_URL", "tokens are never accepted in URLs; send 'Authorization: Bearer "
                            "<token>' instead, and revoke a token that was put in a URL", parameters=leaked)
    g.user = authenticate(db_session(), request.headers.get("Authorization"))


def private_when_authenticated(response):
    if request.headers.get("Authorization"):
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Authorization")
    return response


def current_user():
    return g.get("user")
