"""At scale on PostgreSQL: 100,000 versions of 10,000 artifacts and a venue with 10,000 entries (seeded by bulk
inserts). The home page, a broad search, the venue page (first page and a later cursor) and the venue CSV export
give what a slow reference (every row loaded, filtered and sorted in Python) gives."""

import csv
import io
import random
import re
from collections import defaultdict

import pytest
from sqlalchemy import select

from reproreg.app import create_app
from reproreg.config import Settings
from reproreg.models import Artifact, Namespace, Version, VersionState
from reproreg.seeding import seed
from reproreg.services import badge_states
from reproreg.unit_of_work import unit_of_work
from reproreg_migrations import upgrade
from reproreg_schemas.names import semver_key

pytestmark = pytest.mark.slow
VENUE = "seed-venue"


@pytest.fixture(scope="module")
def big(postgres, tmp_path_factory):
    url = postgres.create()
    upgrade(url)
    app = create_app(Settings(database_url=url, blob_dir=tmp_path_factory.mktemp("big") / "blobs"))
    app.config["TESTING"] = True
    with unit_of_work(app.extensions["registry"].sessions) as session:
        made = seed(session, artifacts=10_000, versions_per_artifact=10, venue=VENUE, venue_entries=10_000)
    assert made.versions == 100_000  # how fast it seeds is bench/read_scale.py's to say
    yield app
    app.extensions["registry"].engine.dispose()


@pytest.fixture(scope="module")
def reference(big):
    """Every version, loaded whole: the slow way."""
    with unit_of_work(big.extensions["registry"].sessions) as session:
        rows = session.execute(select(Namespace.name, Artifact.name, Artifact.visibility, Version.version,
                                      Version.venue, Version.published_at, Version.yanked_at, Version.title,
                                      Version.id)
                               .join(Artifact, Artifact.id == Version.artifact_id)
                               .join(Namespace, Namespace.id == Artifact.namespace_id)).all()
    public = [row for row in rows if row.visibility == "public"]
    by_artifact = defaultdict(list)
    for row in public:
        by_artifact[(row[0], row[1])].append(row)
    latest = {}
    for key, versions in by_artifact.items():
        candidates = sorted((v for v in versions if v.yanked_at is None), key=lambda v: semver_key(v.version),
                            reverse=True)
        releases = [v for v in candidates if "-" not in v.version]
        if releases or candidates:
            latest[key] = (releases or candidates)[0]
    return {"public": public, "latest": latest}


def names(entries) -> list[tuple[str, str]]:
    return [(entry["name"], entry["version"]) for entry in entries]


def test_the_home_page_shows_the_ten_most_recent_public_versions(big, reference):
    expected = sorted((row for row in reference["public"] if row.yanked_at is None),
                      key=lambda row: (row.published_at, row.id), reverse=True)[:10]
    page = big.test_client().get("/").get_data(as_text=True)
    shown = re.findall(r'<td><a href="/([^"/]+/[^"/]+)/([^"/]+)">', page)
    assert shown == [(f"{row[0]}/{row[1]}", row.version) for row in expected]


def test_a_broad_search_pages_through_the_latest_version_of_every_public_artifact(big, reference):
    http = big.test_client()
    found, cursor, pages = [], None, 0
    while True:
        answer = http.get("/api/v1/artifacts", query_string={"q": "model", "limit": 1000,
                                                             **({"cursor": cursor} if cursor else {})}).json
        found += names(answer["entries"])
        pages += 1
        cursor = answer["next"]
        if cursor is None:
            break
    expected = [(f"{ns}/{name}", row.version) for (ns, name), row in sorted(reference["latest"].items())]
    assert answer["total"] == len(expected) == 9_500
    assert found == expected and pages == 10
    first = http.get("/?q=model").get_data(as_text=True)
    assert "9500 results" in first and 'rel="next"' in first


def number(name: str) -> int:
    return int(name.split("-")[1])


@pytest.mark.parametrize(("query", "wanted"), [
    ({"metric": "accuracy", "state": "reproduced"}, lambda name, row: number(name) % 20 == 0),
    ({"state": "failed"}, lambda name, row: number(name) % 20 == 10),
    ({"venue": VENUE, "q": "cifar10"}, lambda name, row: row.venue == VENUE and number(name) % 5 == 0),
    ({"state": "checklist", "q": "model 1225"}, lambda name, row: name == "model-1225"),
    ({"state": "checklist", "q": "model 1226"}, lambda name, row: False),
])
def test_search_filters_match_the_reference(big, reference, query, wanted):
    answer = big.test_client().get("/api/v1/artifacts", query_string={**query, "limit": 1000}).json
    expected = sorted(f"{ns}/{name}" for (ns, name), row in reference["latest"].items() if wanted(name, row))
    assert [entry["name"] for entry in answer["entries"]] == expected and answer["total"] == len(expected)
    assert expected or query.get("q") == "model 1226"


def test_the_venue_page_and_its_later_cursor_follow_the_reference_order(big, reference):
    expected = sorted((row for row in reference["public"] if row.venue == VENUE),
                      key=lambda row: semver_key(row.version), reverse=True)
    expected = sorted(expected, key=lambda row: (row[0], row[1]))
    expected = [(f"{row[0]}/{row[1]}", row.version) for row in expected]
    http = big.test_client()
    found, cursor = [], None
    while True:
        response = http.get(f"/api/v1/venues/{VENUE}", query_string={"limit": 1000,
                                                                     **({"cursor": cursor} if cursor else {})})
        found += names(response.json["entries"])
        link = response.headers.get("Link")
        if not link:
            break
        cursor = re.search(r"cursor=([^&>]+)", link)[1]
    assert found == expected and len(expected) == 9_500
    page = http.get(f"/venues/{VENUE}").get_data(as_text=True)
    assert "9500 entries" in page
    later = re.search(r'<a rel="next" href="([^"]+)"', page)[1].replace("&amp;", "&")
    shown = re.findall(r'<td><a href="/([^"/]+/[^"/]+)/([^"/]+)">', http.get(later).get_data(as_text=True))
    assert shown == expected[100:200]


def test_the_venue_csv_export_lists_every_entry_in_order(big, reference):
    expected = sorted((row for row in reference["public"] if row.venue == VENUE),
                      key=lambda row: semver_key(row.version), reverse=True)
    expected = sorted(expected, key=lambda row: (row[0], row[1]))
    response = big.test_client().get(f"/venues/{VENUE}.csv")
    text = response.get_data(as_text=True)
    response.close()  # a streamed export holds its database session until it is closed
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["name"], row["version"]) for row in rows] == [(f"{r[0]}/{r[1]}", r.version) for r in expected]


def test_stored_states_of_a_sample_equal_what_the_rules_compute(big):
    with unit_of_work(big.extensions["registry"].sessions) as session:
        ids = random.Random(7).sample(range(1, 100_001), 150)
        for version in session.scalars(select(Version).where(Version.id.in_(ids))):
            row = session.get(VersionState, version.id)
            assert {c: getattr(row, c) for c in badge_states.STATE_COLUMNS} == badge_states.compute(session, version)
