"""Engine and sessions. One engine per app; one session per request, closed when the request ends."""

import time
from pathlib import Path

from sqlalchemy import create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


#: a pooled connection idle longer than this is pinged before use (one round trip); one reused sooner is not
IDLE_PING_S = 5.0


def _note_idle_since(_dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """Pessimistic disconnect handling for connections that sat idle (a database restart, a proxy's idle timeout):
    a dead one is replaced before the request sees it. SQLAlchemy's pool_pre_ping pings on every checkout, a
    whole extra round trip per request; a connection checked in moments ago is as good as a pinged one."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception as err:  # the pool discards this connection and checks out a fresh one
        raise exc.DisconnectionError(f"a pooled connection was dead after {IDLE_PING_S} s idle: {err}") from err


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def insert_missing(session: Session, model, rows: list[dict]) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING``: a row a concurrent transaction inserted first is left as it is, and
    this transaction goes on (content-addressed rows are the same whoever inserts them)."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(model).on_conflict_do_nothing(), rows)
