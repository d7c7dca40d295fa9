"""The query-count guard: every page and API listing runs the same number of SQL statements with 10 entries as with
1,000, so that a query per entry (an N+1) cannot come back unnoticed."""

import shutil

import pytest
from sqlalchemy import event

from reproreg.app import create_app
from reproreg.config import Settings
from reproreg.seeding import seed
from reproreg.services.auth import create_token
from reproreg.services.catalog import encode_cursor
from reproreg.unit_of_work import unit_of_work
from reproreg_migrations import upgrade

SCALES = (10, 1000)
PATHS = (
    "/", "/?q=model", "/?q=model+cifar10", "/?venue=seed-venue", "/?metric=top1", "/?state=reproduced",
    "/?state=checklist&q=seed", "/?q=model&cursor={search_cursor}",
    "/venues/seed-venue", "/venues/seed-venue?state=failed", "/venues/seed-venue?cursor={venue_cursor}",
    "/venues/seed-venue.csv", "/venues/seed-venue.json",
    "/api/v1/venues/seed-venue", "/api/v1/venues/seed-venue?limit=5&cursor={venue_cursor}",
    "/api/v1/artifacts", "/api/v1/artifacts?q=model&state=available",
    "/api/v1/artifacts?limit=5&cursor={search_cursor}",
    "/badges/seed-0/model-0.svg", "/badges/seed-0/model-0/1.0.1.json?kind=reproduced",
    "/seed-0/model-0",
)
CURSORS = {"search_cursor": encode_cursor(["seed-0", "model-0"]),
           "venue_cursor": encode_cursor(["seed-0", "model-0", 0])}


def _seeded_app(url: str, tmp_path, entries: int):
    app = create_app(Settings(database_url=url, blob_dir=tmp_path / "blobs"))
    with unit_of_work(app.extensions["registry"].sessions) as session:
        seed(session, artifacts=entries, versions_per_artifact=3, venue_entries=entries)
        from reproreg.models import User

        owner = session.query(User).filter_by(name="seed-owner").one()
        _, secret = create_token(session, owner)
    app.config["TESTING"] = True
    return app, {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def apps(request, tmp_path_factory):
    made = {}
    for entries in SCALES:
        folder = tmp_path_factory.mktemp(f"scale{entries}")
        if request.param == "sqlite":
            path = folder / "registry.db"
            shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("postgres").create()
            upgrade(url)
        made[entries] = _seeded_app(url, folder, entries)
    yield made
    for app, _ in made.values():
        app.extensions["registry"].engine.dispose()


def statements(app, path: str, headers: dict | None = None) -> tuple[int, int]:
    engine = app.extensions["registry"].engine
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = app.test_client().get(path, headers=headers or {})
        response.get_data()  # a streamed export runs its query while it is read
        response.close()  # and holds its database session until it is closed
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return response.status_code, len(seen)


def exported(client, path: str, headers=None) -> str:
    """A streamed export read whole, its response closed (it holds its database session until then)."""
    response = client.get(path, headers=headers or {})
    try:
        return response.get_data(as_text=True)
    finally:
        response.close()


@pytest.mark.parametrize("path", PATHS)
def test_each_listing_runs_as_many_queries_with_1000_entries_as_with_10(apps, path):
    path = path.format(**CURSORS)
    (small, small_token), (large, large_token) = apps[10], apps[1000]
    for small_headers, large_headers in ((None, None), (small_token, large_token)):
        status_small, few = statements(small, path, small_headers)
        status_large, many = statements(large, path, large_headers)
        assert status_small == status_large == 200, path
        assert few == many, f"{path}: {few} statements with 10 entries, {many} with 1000"
        assert many <= 12, f"{path}: {many} statements"


def test_the_listings_do_return_more_with_more_entries(apps):
    """The guard compares like with like: the large registry really lists more."""
    small, large = apps[10][0].test_client(), apps[1000][0].test_client()
    assert small.get("/api/v1/artifacts").json["total"] < large.get("/api/v1/artifacts").json["total"]
    assert len(exported(small, "/venues/seed-venue.csv").splitlines()) == 1 + 10
    # every 20th artifact is private: its entries are listed to its owner only
    assert len(exported(large, "/venues/seed-venue.csv").splitlines()) == 1 + 950
    owner = exported(large, "/venues/seed-venue.csv", headers=apps[1000][1])
    assert len(owner.splitlines()) == 1 + 1000
