"""One transaction per request and per command: opened and committed at the edge, never by a service.

Services add and flush; the edge (an API or page request, a ``registry`` command) commits once when the
operation succeeded and rolls back when it failed, so a composed operation is all or nothing. Work that must
only start once the transaction is visible to others (handing a job to a worker) is registered with
``after_commit`` and runs after the commit, never after a rollback."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from reproreg.errors import RegistryError

T = TypeVar("T")
log = logging.getLogger(__name__)
_CALLBACKS = "after_commit"
_READ_ONLY = "read_only"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed (dropped if it rolls back)."""
    session.info.setdefault(_CALLBACKS, []).append(callback)


def commit(session: Session) -> None:
    session.commit()
    callbacks, session.info[_CALLBACKS] = session.info.get(_CALLBACKS, []), []
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the transaction stands; e.g. a job a broker did not take waits for the poller
            log.exception("an after-commit action failed")


def rollback(session: Session) -> None:
    session.rollback()
    session.info[_CALLBACKS] = []


def finish(session: Session, error: BaseException | None) -> None:
    """Commit when the operation succeeded, or failed with a refusal that keeps what was done before it
    (``RegistryError.keeps_changes``: e.g. a bad upload is discarded and its session with it); else roll back."""
    if session.info.get(_READ_ONLY):
        rollback(session)
    elif error is None or (isinstance(error, RegistryError) and error.keeps_changes):
        commit(session)
    else:
        rollback(session)


def read_only(session: Session) -> Session:
    """Mark the session as a reader's (a GET): any attempt to write through it fails loudly."""
    session.info[_READ_ONLY] = True
    return session


def retrying_lost_races(session: Session, operation: Callable[[], T], attempts: int = 3) -> T:
    """Run ``operation`` in the session's transaction; when it loses a race to a concurrent transaction (a unique
    constraint the winner filled first, a deadlock, a locked SQLite database), roll back and run it again: the
    retry reads what the winner wrote."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except (IntegrityError, OperationalError) as err:
            if attempt == attempts or not _lost_a_race(err):
                raise
            rollback(session)
    raise AssertionError("unreachable")


def _lost_a_race(err: Exception) -> bool:
    if isinstance(err, IntegrityError):
        return True
    original = getattr(err, "orig", None)
    return getattr(original, "sqlstate", None) in ("40001", "40P01") or "database is locked" in str(original)


@event.listens_for(Session, "before_flush")
def _refuse_writes_when_read_only(session: Session, _flush_context, _instances) -> None:
    if session.info.get(_READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a read-only (GET) transaction tried to write; reads must not change state")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes_when_read_only(state) -> None:
    if state.session.info.get(_READ_ONLY) and (state.is_insert or state.is_update or state.is_delete):
        raise RuntimeError("a read-only (GET) transaction tried to write; reads must not change state")


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """``with unit_of_work(ctx.sessions) as session:`` — one transaction for a command."""
    session = sessions()
    try:
        yield session
    except BaseException as err:
        finish(session, err)
        raise
    else:
        finish(session, None)
    finally:
        session.close()
