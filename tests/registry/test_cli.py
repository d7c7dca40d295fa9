"""The admin commands, run as an operator runs them."""

import os
import subprocess

from tests.live import BIN


def run(database_url, *args, check=True):
    env = {**os.environ, "REGISTRY_DATABASE_URL": database_url}
    return subprocess.run([BIN / "registry", *args], env=env, capture_output=True, text=True, check=check)


def test_tokens_create_prints_only_the_token_and_revoke_stops_it(database_url, app, http):
    run(database_url, "users", "create", "carol")
    created = run(database_url, "tokens", "create", "carol", "--description", "laptop")
    lines = created.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rrt_")
    token = lines[0]
    assert http.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json["name"] == "carol"

    listing = run(database_url, "tokens", "list", "carol").stdout
    assert token not in listing and "laptop" in listing
    token_id = listing.split()[0]
    run(database_url, "tokens", "revoke", token_id)
    assert http.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_admin_errors_are_one_line(database_url):
    run(database_url, "users", "create", "carol")
    again = run(database_url, "users", "create", "carol", check=False)
    assert again.returncode == 4 and again.stderr.strip() == "error: the name 'carol' is taken"
    bad = run(database_url, "users", "create", "Not Valid", check=False)
    assert bad.returncode == 4 and "Traceback" not in bad.stderr
    missing = run(database_url, "tokens", "create", "nobody", check=False)
    assert missing.returncode == 4 and "no user named 'nobody'" in missing.stderr
