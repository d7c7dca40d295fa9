import pytest

from tests.live import LiveRegistry, Regctl
from tests.s3 import moto_server  # noqa: F401  (the fixture)

#: the modules whose tests run on each storage backend (the push/pull/verify suite); the others use local disk
STORAGE_MODULES = {"test_push_pull", "test_verify", "test_s3", "test_gc"}
#: modules whose S3 runs use one database only: what they check on top of push and pull does not depend on where
#: blobs live, and the database-dependent part runs on both databases with local storage
S3_ON_SQLITE_ONLY = {"test_verify", "test_gc"}
#: tests that reach into the blob folder's layout (to damage a blob, or to look for leftovers); their S3
#: counterparts are in test_s3.py
LOCAL_LAYOUT_TESTS = {
    "test_bytes_that_do_not_match_the_declared_digest_leave_no_blob_and_no_version",
    "test_a_blob_damaged_on_the_server_makes_pull_exit_2_naming_the_file",
    "test_a_damaged_blob_exits_2_before_any_author_code_runs",
}


def pytest_generate_tests(metafunc):
    explicit = any("storage" in mark.args[0] for mark in metafunc.definition.iter_markers("parametrize"))
    if "storage" in metafunc.fixturenames and not explicit \
            and metafunc.module.__name__.rpartition(".")[2] in STORAGE_MODULES:
        local_only = metafunc.function.__name__ in LOCAL_LAYOUT_TESTS
        metafunc.parametrize("storage", ["local"] if local_only else ["local", "s3"], indirect=True)


def pytest_collection_modifyitems(config, items):
    items[:] = [item for item in items if not (
        item.module.__name__.rpartition(".")[2] in S3_ON_SQLITE_ONLY
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("storage") == "s3" and item.callspec.params.get("database_url") == "postgresql")]


@pytest.fixture
def storage(request) -> str:
    """Where the live registry keeps its blobs: ``local`` (a folder) or ``s3`` (a bucket on moto's server)."""
    return getattr(request, "param", "local")


@pytest.fixture
def live(database_url, tmp_path, storage, request):
    """The registry serving on a free port, on each database backend (and for the push/pull/verify suite, on
    each storage backend: a folder, or a bucket of its own on the session's moto server)."""
    env = {}
    if storage == "s3":
        server = request.getfixturevalue("moto_server")
        env = server.registry_env(server.new_bucket())
    registry = LiveRegistry(database_url, tmp_path / "server-blobs", tmp_path / "server.log", **env).start()
    yield registry
    registry.stop()


@pytest.fixture
def regctl_as(live, tmp_path):
    """``regctl_as("alice")`` creates the user (through the admin CLI) and returns regctl run as alice."""

    def make(name: str | None) -> Regctl:
        token = live.create_user(name) if name else None
        home = tmp_path / f"home-{name or 'anonymous'}"
        home.mkdir(exist_ok=True)
        return Regctl(live, home, token)

    return make
