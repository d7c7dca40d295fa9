"""Fixtures: databases built by the migrations (SQLite and PostgreSQL), the app, and a live server process."""

import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from reproreg.app import create_app
from reproreg.config import Settings
from reproreg.db import make_engine
from reproreg.models import Base
from reproreg.services.auth import create_token, create_user
from reproreg.unit_of_work import unit_of_work
from reproreg_migrations import upgrade

POSTGRES_ADMIN_URL = os.environ.get("REGISTRY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


class PostgresDatabases:
    """Creates throw-away databases on the local PostgreSQL server (which must be running)."""

    def __init__(self):
        self.created: list[str] = []
        try:
            with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=5):
                pass
        except psycopg.OperationalError as err:
            raise RuntimeError(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: start it (see .ci/run); "
                               f"the PostgreSQL tests never skip. ({err})") from err

    def create(self) -> str:
        name = f"registry_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            for name in self.created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres():
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "registry.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres) -> str:
    url = postgres.create()
    upgrade(url)
    return url


def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """An empty, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "registry.db"
        shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("migrated_postgres")
    _empty_tables(url)
    return url


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, blob_dir=tmp_path / "blobs", max_json_bytes=1 << 20)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["registry"].engine.dispose()


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """Create a user; returns (name, Authorization headers)."""

    def make(name: str) -> tuple[str, dict]:
        registry = app.extensions["registry"]
        with unit_of_work(registry.sessions) as session:
            user = create_user(session, name)
            _, secret = create_token(session, user)
        return name, {"Authorization": f"Bearer {secret}"}

    return make
