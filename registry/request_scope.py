"""The web edge's view of a request: the running registry, and the request's one database session.

The session's transaction is the request's unit of work: committed once after a successful response to a
request that may write, rolled back otherwise (see ``reproreg.unit_of_work``). GET and HEAD requests read only.
"""

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from reproreg import unit_of_work
from reproreg.context import RegistryContext

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def current_registry() -> RegistryContext:
    return current_app.extensions["registry"]


def db_session() -> Session:
    """The request's database session, opened on first use."""
    if "db_session" not in g:
        session = current_registry().sessions()
        g.db_session = unit_of_work.read_only(session) if request.method in SAFE_METHODS else session
    return g.db_session


def end_transaction(error: BaseException | None) -> None:
    """Commit or roll back the request's transaction; ``error`` is what the request failed with, if anything."""
    session = g.get("db_session")
    if session is not None:
        unit_of_work.finish(session, error)


def install(app: Flask) -> None:
    @app.after_request
    def _commit_success(response):
        if response.status_code < 400 and not g.get("request_failed"):
            end_transaction(None)
        return response

    @app.teardown_appcontext
    def _close(_exc=None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            unit_of_work.rollback(session)  # a no-op after a commit; undoes anything left open
            session.close()


def fail_request(error: BaseException) -> None:
    """Called by the error handlers: end the transaction for a request that failed with ``error``."""
    g.request_failed = True
    end_transaction(error)
