"""The application factory."""

import json
import logging

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import BaseConverter
from werkzeug.serving import WSGIRequestHandler

from reproreg import request_scope
from reproreg.config import Settings
from reproreg.context import RegistryContext
from reproreg.db import make_engine, make_session_factory
from reproreg.errors import RegistryError
from reproreg.jobs import create_dispatcher
from reproreg.storage import create_blob_store
from reproreg_schemas.errors import flatten_messages

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE", 414: "URI_TOO_LONG", 415: "UNSUPPORTED_MEDIA_TYPE", 416: "INVALID_RANGE",
    422: "VALIDATION_ERROR",
}
#: the longest request target (path and query) answered; longer ones get 414. Below gunicorn's default request
#: line limit (4094 bytes with the method and protocol), so that the API answers its own envelope first.
MAX_URI_LENGTH = 4000


class PageNamespaceConverter(BaseConverter):
    """The namespace part of a page's address: never ``api`` (a reserved name), so that no address of the API is
    also a page (which would answer GET there, and list GET in the API's Allow headers)."""

    regex = r"(?!api/)[^/]+"
    part_isolating = False


def create_app(settings: Settings | None = None, dispatcher=None) -> Flask:
    """``dispatcher`` runs verification jobs; by default the one the settings choose (Celery, or none: jobs
    then wait for a worker's poll). `registry serve` passes its in-process executor."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_json_bytes
    app.json.sort_keys = False
    app.url_map.converters["namespace"] = PageNamespaceConverter
    engine = make_engine(settings.database_url)
    app.extensions["registry"] = RegistryContext(
        settings=settings, engine=engine, sessions=make_session_factory(engine), blobs=create_blob_store(settings),
        dispatcher=dispatcher or create_dispatcher(settings),
    )
    request_scope.install(app)
    app.before_request(refuse_long_uri)

    from reproreg.api import register_api
    from reproreg.web.views import bp as web
    from reproreg_schemas.units import human_size

    app.extensions["registry-api"] = register_api(app)
    app.register_blueprint(web)
    app.jinja_env.filters["filesize"] = human_size
    register_error_handlers(app)
    start_blob_verifier(app)
    return app


def start_blob_verifier(app: Flask) -> None:
    """With object storage, large uploads are verified by jobs in this process's threads
    (``reproreg.jobs.blob_verification``); take up at once any that a stopped process left unfinished."""
    from reproreg.jobs.blob_verification import create_verifier

    verifier = create_verifier(app.extensions["registry"])
    app.extensions["blob-verifier"] = verifier
    if verifier is not None:
        verifier.resume_at_start()


def refuse_long_uri() -> None:
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    if len(target) > MAX_URI_LENGTH:
        raise RegistryError("URI_TOO_LONG", f"the address is {len(target)} characters long; the registry answers "
                            f"addresses of at most {MAX_URI_LENGTH}", limit=MAX_URI_LENGTH)


def error_response(code: str, message: str, status: int, details: dict | None = None):
    if not request.path.startswith("/api/"):  # the pages get an HTML error page, the API its JSON envelope
        return _error_page(status, message)
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


PAGE_TITLES = {404: "Not found", 405: "Not allowed", 414: "Address too long", 500: "Something went wrong"}


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
        request_scope.fail_request(err)
        return error_response(err.code, err.message, err.status, err.details)

    @app.errorhandler(ValidationError)
    def validation_error(err: ValidationError):
        request_scope.fail_request(err)
        problems = flatten_messages(err.messages)
        return error_response("VALIDATION_ERROR", f"the request has {len(problems)} problem(s)", 422,
                              {"problems": problems})

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        request_scope.fail_request(err)
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
        response = error_response(code, message, status, details)
        if isinstance(err, MethodNotAllowed) and err.valid_methods:  # RFC 9110: a 405 names the allowed methods
            response = app.make_response(response)
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(err: Exception):
        request_scope.fail_request(err)
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("INTERNAL_ERROR", "the registry failed unexpectedly; the error was logged", 500)


def _webargs_problems(messages) -> dict[str, list[str]]:
    """webargs keys its errors by location (``{"json": {...}}``); the envelope keys them by field path."""
    problems: dict[str, list[str]] = {}
    for location, errors in (messages.items() if isinstance(messages, dict) else [("body", messages)]):
        problems.update(flatten_messages(errors, "" if isinstance(errors, dict) else f"({location})"))
    return problems


class ApiErrorRequestHandler(WSGIRequestHandler):
    """The development server's request handler (`registry serve`): the errors it answers itself, before the
    application sees the request (a request line over 64 KiB: 414; malformed requests: 400; too many headers: 431),
    come in the error envelope when the request was for the API, as HTML otherwise."""

    def send_error(self, code, message=None, explain=None):
        if not self._requests_api():
            return super().send_error(code, message, explain)
        if code == 414:
            self._discard_request_line()
        text = {414: f"the address is longer than this server reads ({MAX_REQUEST_LINE} bytes); the registry "
                     f"answers addresses of at most {MAX_URI_LENGTH} characters"}.get(code) or explain or message
        error_code = HTTP_CODES.get(code, "BAD_REQUEST" if code < 500 else "INTERNAL_ERROR")
        body = json.dumps({"error": {"code": error_code, "message": text or self.responses.get(code, ("",))[0],
                                     "details": {}}}).encode()
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, message)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _requests_api(self) -> bool:
        parts = (getattr(self, "raw_requestline", b"") or b"").split(b" ", 2)
        return len(parts) > 1 and parts[1].startswith(b"/api/")

    def _discard_request_line(self) -> None:
        """Read the rest of the over-long line (up to a bound), so that closing the connection does not reset it
        before the client has read the answer."""
        remaining = 64 * MAX_REQUEST_LINE
        while remaining > 0 and not self.raw_requestline.endswith(b"\n"):
            self.raw_requestline = self.rfile.readline(min(remaining, MAX_REQUEST_LINE))
            if not self.raw_requestline:
                break
            remaining -= len(self.raw_requestline)


#: what http.server reads of a request line before answering 414 itself
MAX_REQUEST_LINE = 65536
