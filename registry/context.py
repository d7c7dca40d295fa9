"""What a running registry holds: settings, database sessions, blob storage and upload hash states."""

from dataclasses import dataclass, field

from flask import current_app, g
from reproreg.config import Settings
from reproreg.services.hash_states import HashStates
from reproreg.storage.base import BlobStore
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


@dataclass
class RegistryContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore
    dispatcher: object
    hash_states: HashStates = field(default_factory=HashStates)


def current_registry() -> RegistryContext:
    return current_app.extensions["registry"]


def db_session() -> Session:
    """The request's database session, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_registry().sessions()
    return g.db_session


def close_db_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
