import pytest

from tests.live import LiveRegistry, Regctl


@pytest.fixture
def live(database_url, tmp_path):
    """The registry serving on a free port, on each database backend."""
    registry = LiveRegistry(database_url, tmp_path / "server-blobs", tmp_path / "server.log").start()
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
