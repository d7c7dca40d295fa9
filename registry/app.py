"""The application factory."""

import logging

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from registry.config import Settings
from registry.context import RegistryContext, close_db_session
from registry.db import make_engine, make_session_factory
from registry.errors import RegistryError
from registry.jobs import create_dispatcher
from registry.storage import create_blob_store
from schemas.errors import flatten_messages

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 416: "INVALID_RANGE", 422: "VALIDATION_ERROR",
}


def create_app(settings: Settings | None = None, dispatcher=None) -> Flask:
    """``dispatcher`` runs verification jobs; by default the one the settings choose (Celery, or none: jobs
    then wait for a worker's poll). `registry serve` passes its in-process executor."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_json_bytes
    app.json.sort_keys = False
    engine = make_engine(settings.database_url)
    app.extensions["registry"] = RegistryContext(
        settings=settings, engine=engine, sessions=make_session_factory(engine), blobs=create_blob_store(settings),
        dispatcher=dispatcher or create_dispatcher(settings),
    )
    app.teardown_appcontext(close_db_session)

    from registry.api import register_api
    from registry.web.presenters import human_size
    from registry.web.views import bp as web

    app.extensions["registry-api"] = register_api(app)
    app.register_blueprint(web)
    app.jinja_env.filters["filesize"] = human_size
    register_error_handlers(app)
    return app


def error_response(code: str, message: str, status: int, details: dict | None = None):
    if not request.path.startswith("/api/"):  # the pages get an HTML error page, the API its JSON envelope
        return _error_page(status, message)
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


PAGE_TITLES = {404: "Not found", 405: "Not allowed", 500: "Something went wrong"}


def _error_page(status: int, message: str):
    from flask import render_template

    if status == 404:
        message = "There is no such page, or the entry is private."
    body = render_template("error.html", status=status, title=PAGE_TITLES.get(status, "Bad request"),
                           message=message)
    return body, status, {"Content-Type": "text/html; charset=utf-8"}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RegistryError)
    def registry_error(err: RegistryError):
        _rollback()
        return error_response(err.code, err.message, err.status, err.details)

    @app.errorhandler(ValidationError)
    def validation_error(err: ValidationError):
        _rollback()
        problems = flatten_messages(err.messages)
        return error_response("VALIDATION_ERROR", f"the request has {len(problems)} problem(s)", 422,
                              {"problems": problems})

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        _rollback()
        status = err.code or 500
        code = HTTP_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
        details = {}
        messages = (getattr(err, "data", None) or {}).get("messages")
        if messages:  # webargs' validation errors, keyed by location ("json", "query", ...)
            details["problems"] = _webargs_problems(messages)
            message = f"the request has {len(details['problems'])} problem(s)"
        elif status == 413:
            message = "the request body is larger than this registry accepts"
        elif status == 404:
            message = f"there is nothing at {request.path}"
        else:
            message = err.description or err.name
        return error_response(code, message, status, details)

    @app.errorhandler(Exception)
    def unexpected_error(err: Exception):
        _rollback()
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("INTERNAL_ERROR", "the registry failed unexpectedly; the error was logged", 500)


def _webargs_problems(messages) -> dict[str, list[str]]:
    """webargs keys its errors by location (``{"json": {...}}``); the envelope keys them by field path."""
    problems: dict[str, list[str]] = {}
    for location, errors in (messages.items() if isinstance(messages, dict) else [("body", messages)]):
        problems.update(flatten_messages(errors, "" if isinstance(errors, dict) else f"({location})"))
    return problems


def _rollback() -> None:
    from flask import g

    session = g.get("db_session")
    if session is not None:
        session.rollback()
