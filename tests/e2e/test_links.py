"""Accountable records through real HTTP between regctl and a registry process: links pushed from regctl.yaml
shown on both sides, a token refused for its scope (regctl names the scope), an expired token, an intact chain."""

import json
import subprocess
import urllib.request

from tests.factories import make_project
from tests.live import BIN, Regctl


def get_json(live, path: str) -> dict:
    with urllib.request.urlopen(f"{live.url}/api/v1{path}") as response:
        return json.loads(response.read())


def test_links_scopes_and_the_chain_end_to_end(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    generator = make_project(tmp_path / "gen", name="alice/gen")
    assert alice("push", generator).code == 0
    detector = make_project(tmp_path / "det", seed=1, name="alice/det",
                            links=[{"type": "detector-for", "target": "alice/gen"}])
    pushed = alice("push", detector)
    assert pushed.code == 0, pushed.stderr
    assert get_json(live, "/artifacts/alice/gen/links")["incoming"][0]["source"] == "alice/det"
    assert get_json(live, "/artifacts/alice/det/links")["outgoing"][0]["target"] == "alice/gen"
    with urllib.request.urlopen(f"{live.url}/alice/gen/1.0.0") as response:
        assert "alice/det 1.0.0" in response.read().decode()

    read_only = Regctl(live, alice.home, live.admin("tokens", "create", "alice", "--scope", "read").strip())
    refused = read_only("push", make_project(tmp_path / "other", seed=2, name="alice/other"))
    assert refused.code == 6, refused.stderr
    (line,) = refused.stderr.strip().splitlines()[-1:]
    assert "Traceback" not in refused.stderr
    assert line.startswith("error: ") and "push:" in line and "scope" in line, refused.stderr

    assert read_only("show", "alice/det").code == 0
    log = get_json(live, "/artifacts/alice/det/audit")["entries"]
    assert [entry["action"] for entry in log][-2:] == ["version.publish", "artifact.create"]
    verified = subprocess.run([BIN / "registry", "audit", "verify"], env=live.env, capture_output=True, text=True)
    assert verified.returncode == 0 and verified.stdout.startswith("intact: "), verified.stdout + verified.stderr
