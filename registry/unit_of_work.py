"""One transaction per request and per command: opened and committed at the edge, never by a service.

Services add and flush; the edge (an API or page request, a ``registry`` command) commits once when the
operation succeeded and rolls back when it failed, so a composed operation is all or nothing. Work that must
only start once the transaction is visible to others (handing a job to a worker) is registered with
``after_commit`` and runs after the commit, never after a rollback."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from reproreg.errors import RegistryError
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

_CALLBACKS = "after_commit"
_READ_ONLY = "read_only"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed (dropped if it rolls back)."""
    session.info.setdefault(_CALLBACKS, []).append(callback)


def commit(session: Session) -> None:
    session.commit()
    callbacks, session.info[_CALLBACKS] = session.info.get(_CALLBACKS, []), []
    for callback in callbacks:
        callback()


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
