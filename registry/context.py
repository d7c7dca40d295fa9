"""What a running registry holds: settings, database sessions, blob storage and upload hash states.

A plain object, built by the app factory or a command: services receive it as an argument and never reach for
a framework's globals to find it."""

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from reproreg.config import Settings
from reproreg.jobs import Dispatcher
from reproreg.services.hash_states import HashStates
from reproreg.storage.base import BlobStore


@dataclass
class RegistryContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore
    dispatcher: Dispatcher
    hash_states: HashStates = field(default_factory=HashStates)
