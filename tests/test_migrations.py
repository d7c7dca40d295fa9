"""`registry db upgrade` on an empty database gives exactly the schema the models describe."""

import os
import subprocess

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from reproreg.db import make_engine
from reproreg.models import Base
from tests.live import BIN


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("postgres").create()


def test_db_upgrade_on_an_empty_database_matches_the_models(empty_database):
    env = {**os.environ, "REGISTRY_DATABASE_URL": empty_database}
    subprocess.run([BIN / "registry", "db", "upgrade"], env=env, check=True, capture_output=True)
    engine = make_engine(empty_database)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                           Base.metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert differences == []
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
