"""Pooled PostgreSQL connections: a connection that died while idle is replaced before a request uses it."""

import psycopg
import pytest
from sqlalchemy import exc, text

from reproreg import db
from tests.conftest import POSTGRES_ADMIN_URL


def _kill_the_pooled_connection(engine) -> None:
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
def engine(postgres):
    engine = db.make_engine(postgres.create())
    yield engine
    engine.dispose()


def test_a_connection_that_died_while_idle_is_replaced(engine, monkeypatch):
    _kill_the_pooled_connection(engine)
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 41 + 1")).scalar_one() == 42


def test_a_connection_reused_at_once_is_not_pinged(engine, monkeypatch):
    """The other side of the trade: without the idle ping the dead connection reaches the caller, which shows
    that the ping above is what replaced it (and that a busy pool pays no round trip for it)."""
    _kill_the_pooled_connection(engine)
    monkeypatch.setattr(db, "IDLE_PING_S", 3600.0)
    with pytest.raises(exc.OperationalError):
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
