"""Memory stays flat whatever the file size: a 1 GiB push and pull, peak RSS measured for both processes."""

import filecmp

import pytest

from tests.factories import make_project

GiB = 1 << 30
LIMIT = 200 * 1000 * 1000


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_push_and_pull_of_1_gib_keep_server_and_client_under_200_mb(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=GiB, name="alice/big")

    pushed = alice("push", project, "--json")
    assert pushed.code == 0, pushed.stderr
    assert pushed.json()["bytes_uploaded"] >= GiB
    pulled = alice("pull", "alice/big", "-o", tmp_path / "out", "--json")
    assert pulled.code == 0, pulled.stderr
    assert pulled.json()["bytes_downloaded"] >= GiB
    assert filecmp.cmp(project / "weights" / "model.safetensors", tmp_path / "out" / "weights" / "model.safetensors",
                       shallow=False)

    server_peak = live.peak_rss_bytes()
    print(f"peak RSS: server {server_peak / 1e6:.0f} MB, push {pushed.peak_rss_bytes / 1e6:.0f} MB, "
          f"pull {pulled.peak_rss_bytes / 1e6:.0f} MB")
    assert server_peak < LIMIT
    assert pushed.peak_rss_bytes < LIMIT
    assert pulled.peak_rss_bytes < LIMIT
