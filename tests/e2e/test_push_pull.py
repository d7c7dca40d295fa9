"""regctl against a registry process, over real HTTP."""

import filecmp
import hashlib
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from regctl.hashing import file_fingerprint
from tests.factories import author_file, make_project, write_author_file, write_file
from tests.live import logged_requests, stored_blobs

MB = 1000 * 1000


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def assert_same_tree(pulled: Path, project: Path) -> None:
    for path in project.rglob("*"):
        if path.is_file() and path.name != "regctl.yaml":
            twin = pulled / path.relative_to(project)
            assert twin.is_file(), f"{twin} missing"
            assert filecmp.cmp(path, twin, shallow=False), f"{twin} differs"


def test_push_then_pull_of_a_50_mb_checkpoint_gives_identical_files(regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=50 * MB, name="alice/resnet")

    pushed = alice("push", project)
    assert pushed.code == 0, pushed.stderr
    digest = next(line.split()[-1] for line in pushed.stdout.splitlines() if line.startswith("digest:"))
    assert digest.startswith("sha256:") and len(digest) == 71

    target = tmp_path / "empty"
    pulled = alice("pull", "alice/resnet@1.0.0", "-o", target, "--json")
    assert pulled.code == 0, pulled.stderr
    assert pulled.json()["digest"] == digest
    assert_same_tree(target, project)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "configs/train.yaml", "eval.py", "requirements.txt", "weights/model.safetensors"]


def test_repush_unchanged_sends_no_blob_bytes(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=2 * MB, name="alice/resnet")
    first = alice("push", project, "--json")
    assert first.code == 0, first.stderr
    assert first.json()["bytes_uploaded"] == first.json()["bytes_total"]
    patches = logged_requests(live, "PATCH", "/api/v1/uploads/")

    again = alice("push", project, "--json")
    assert again.code == 0, again.stderr
    assert again.json()["bytes_uploaded"] == 0
    assert again.json()["created"] is False
    assert again.json()["digest"] == first.json()["digest"]
    assert logged_requests(live, "PATCH", "/api/v1/uploads/") == patches


def test_a_changed_file_under_the_same_version_is_refused_and_nothing_changes(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=MB, name="alice/resnet")
    first = alice("push", project, "--json").json()
    blobs_before = stored_blobs(live)
    (project / "eval.py").write_text("print('a different evaluation')\n")

    refused = alice("push", project)
    assert refused.code == 8
    assert "already published" in refused.stderr and "new version" in refused.stderr
    assert stored_blobs(live) == blobs_before

    shown = alice("show", "alice/resnet@1.0.0", "--json").json()
    assert shown["digest"] == first["digest"]
    pulled = alice("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out")
    assert pulled.code == 0
    assert (tmp_path / "out" / "eval.py").read_text() == "import json, sys\nprint('evaluating')\n"


def _start_upload(live, token: str, digest: str | None, size: int, fingerprint: str | None = None) -> dict:
    response = requests.post(f"{live.url}/api/v1/uploads",
                             json={"digest": digest, "size": size, "fingerprint": fingerprint},
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_bytes_that_do_not_match_the_declared_digest_leave_no_blob_and_no_version(live, tmp_path):
    token = live.create_user("alice")
    claimed = b"the bytes the client claims to send"
    sent = b"other bytes of the very same length!"[: len(claimed)]
    digest = "sha256:" + hashlib.sha256(claimed).hexdigest()
    upload = _start_upload(live, token, digest, len(claimed))
    response = requests.patch(f"{live.url}/api/v1/uploads/{upload['id']}", data=sent,
                              headers={"Authorization": f"Bearer {token}", "Upload-Offset": "0"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "DIGEST_MISMATCH"
    assert stored_blobs(live) == []
    assert not any((live.blob_dir / "uploads").iterdir())

    manifest = {**author_file(name="alice/resnet"), "manifest_version": 1,
                "files": [{"path": "weights/model.safetensors", "size": len(claimed), "sha256": digest}]}
    for key in ("release",):
        manifest.pop(key)
    manifest["training"].pop("config")
    response = requests.put(f"{live.url}/api/v1/artifacts/alice/resnet/versions/1.0.0",
                            json={"manifest": manifest}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "BLOB_UNKNOWN"
    assert requests.get(f"{live.url}/api/v1/artifacts/alice/resnet").status_code == 404


def test_a_blob_damaged_on_the_server_makes_pull_exit_2_naming_the_file(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=3 * MB, name="alice/resnet")
    assert alice("push", project).code == 0
    weights = sha256_of(project / "weights" / "model.safetensors").removeprefix("sha256:")
    stored = live.blob_dir / "blobs" / "sha256" / weights[:2] / weights
    stored.chmod(0o644)
    with open(stored, "r+b") as handle:
        handle.seek(1_000_000)
        byte = handle.read(1)
        handle.seek(1_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))

    result = regctl_as("bob")("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out")
    assert result.code == 2
    assert "weights/model.safetensors" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "weights" / "model.safetensors").exists()


@pytest.mark.parametrize("declared", [True, False], ids=["digest-declared", "hashed-while-streaming"])
def test_an_upload_interrupted_halfway_resumes_from_the_server_offset(live, regctl_as, tmp_path, declared):
    alice_token = live.create_user("alice")
    project = make_project(tmp_path / "project", weights_size=20 * MB, name="alice/resnet")
    weights = project / "weights" / "model.safetensors"
    size = weights.stat().st_size
    upload = _start_upload(live, alice_token, sha256_of(weights) if declared else None, size,
                           file_fingerprint(weights, size))

    # Send the headers for the whole file, then half of the body, then drop the connection.
    address = urlparse(live.url)
    with socket.create_connection((address.hostname, address.port)) as connection, open(weights, "rb") as handle:
        connection.sendall((f"PATCH /api/v1/uploads/{upload['id']} HTTP/1.1\r\nHost: {address.netloc}\r\n"
                            f"Authorization: Bearer {alice_token}\r\nUpload-Offset: 0\r\n"
                            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n").encode())
        connection.sendall(handle.read(size // 2))
    state = _wait_for_offset(live, alice_token, upload["id"], size // 2)
    assert state["complete"] is False

    from tests.live import Regctl

    home = tmp_path / "alice-home"
    home.mkdir()
    pushed = Regctl(live, home, alice_token)("push", project, "--json")
    assert pushed.code == 0, pushed.stderr
    small_files = sum(p.stat().st_size for p in project.rglob("*") if p.is_file() and p.suffix != ".safetensors"
                      and p.name != "regctl.yaml")
    assert pushed.json()["bytes_uploaded"] == size - state["offset"] + small_files

    pulled = Regctl(live, home, alice_token)("pull", "alice/resnet@1.0.0", "-o", tmp_path / "out")
    assert pulled.code == 0, pulled.stderr
    assert filecmp.cmp(weights, tmp_path / "out" / "weights" / "model.safetensors", shallow=False)


def _wait_for_offset(live, token, upload_id, at_least):
    import time

    deadline = time.monotonic() + 20
    state = {}
    while time.monotonic() < deadline:
        state = requests.get(f"{live.url}/api/v1/uploads/{upload_id}",
                             headers={"Authorization": f"Bearer {token}"}).json()
        if state["offset"] >= at_least:
            time.sleep(0.3)  # let the server notice the disconnect and release the upload
            return requests.get(f"{live.url}/api/v1/uploads/{upload_id}",
                                headers={"Authorization": f"Bearer {token}"}).json()
        time.sleep(0.1)
    raise AssertionError(f"the server never stored the first half: {state}")


def test_an_invalid_regctl_yaml_lists_every_problem_and_uploads_nothing(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", name="alice/resnet")
    document = author_file(name="alice/resnet", version="1.0")
    document["claims"][1]["tolerance"] = {"abs": 0.1, "rel": 0.2}
    document["checklist"]["ER6"] = {"answer": "maybe", "justification": "unsure"}  # (an item left out is a draft)
    document["files"].append("../outside.bin")
    document["evaluation"]["command"] = "python eval.py"
    write_author_file(project, document)

    result = alice("push", project)
    assert result.code == 4
    for field in ("version:", "claims[1].tolerance:", "checklist.ER6.answer:", "files[4]:", "evaluation.command:"):
        assert field in result.stderr, field
    assert "nothing was uploaded" in result.stderr
    assert logged_requests(live, "POST", "/api/v1/uploads") == 0
    assert logged_requests(live, "POST", "/api/v1/blobs/missing") == 0
    assert stored_blobs(live) == []


def test_another_users_token_can_neither_push_into_your_namespace_nor_read_your_private_artifact(regctl_as, tmp_path):
    alice, bob, anonymous = regctl_as("alice"), regctl_as("bob"), regctl_as(None)
    private = make_project(tmp_path / "private", name="alice/secret", release={"visibility": "private"})
    assert alice("push", private).code == 0

    intruding = make_project(tmp_path / "intruder", name="alice/by-bob")
    refused = bob("push", intruding)
    assert refused.code == 6
    assert "cannot push into namespace 'alice'" in refused.stderr
    assert alice("show", "alice/by-bob").code == 7

    for who in (bob, anonymous):
        for command in (("pull", "alice/secret", "-o", tmp_path / "stolen"), ("show", "alice/secret@1.0.0")):
            result = who(*command)
            assert result.code == 7, result.stderr
            assert "no artifact named 'alice/secret' is visible to you" in result.stderr
    assert not (tmp_path / "stolen").exists()
    assert alice("pull", "alice/secret", "-o", tmp_path / "mine").code == 0


def test_a_second_pull_transfers_nothing_and_pull_by_digest_works(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=2 * MB, name="alice/resnet")
    digest = alice("push", project, "--json").json()["digest"]
    first = alice("pull", f"alice/resnet@{digest}", "-o", tmp_path / "one", "--json")
    assert first.code == 0, first.stderr
    assert first.json()["bytes_downloaded"] == sum(f["size"] for f in first.json()["files"])
    downloads = logged_requests(live, "GET", "/blobs/sha256:")

    second = alice("pull", "alice/resnet", "-o", tmp_path / "two", "--json")
    assert second.code == 0
    assert second.json()["bytes_downloaded"] == 0
    assert logged_requests(live, "GET", "/blobs/sha256:") == downloads
    assert_same_tree(tmp_path / "two", project)

    wrong = alice("pull", "alice/resnet@sha256:" + "0" * 64, "-o", tmp_path / "three")
    assert wrong.code == 7


def test_yanked_versions_stay_resolvable_but_are_never_latest(regctl_as, tmp_path):
    alice = regctl_as("alice")
    assert alice("push", make_project(tmp_path / "v1", name="alice/resnet", version="1.0.0")).code == 0
    assert alice("push", make_project(tmp_path / "v2", name="alice/resnet", version="1.1.0")).code == 0
    assert alice("yank", "alice/resnet@1.1.0", "--reason", "trained on the test set").code == 0

    latest = alice("show", "alice/resnet", "--json").json()
    assert latest["version"] == "1.0.0"
    yanked = alice("show", "alice/resnet@1.1.0")
    assert yanked.code == 0 and "YANKED: trained on the test set" in yanked.stdout
    pulled = alice("pull", "alice/resnet@1.1.0", "-o", tmp_path / "out")
    assert pulled.code == 0 and "yanked" in pulled.stderr
    assert regctl_as("bob")("yank", "alice/resnet@1.0.0", "--reason", "mine now").code == 6


def test_regctl_reports_an_unreachable_registry_in_one_line(tmp_path):
    import os
    import subprocess

    from tests.live import BIN

    env = {**os.environ, "REGCTL_URL": "http://127.0.0.1:9", "REGCTL_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([BIN / "regctl", "show", "alice/resnet"], env=env, capture_output=True, text=True)
    assert result.returncode == 5
    assert result.stderr.count("\n") == 1 and "cannot reach the registry" in result.stderr


def test_write_file_is_deterministic(tmp_path):
    a, b = write_file(tmp_path / "a", 3 * MB + 5, seed=1), write_file(tmp_path / "b", 3 * MB + 5, seed=1)
    assert filecmp.cmp(a, b, shallow=False) and a.stat().st_size == 3 * MB + 5


def test_login_checks_the_token_and_saves_it_for_the_owner_only(live, regctl_as, tmp_path):
    import os
    import stat
    import subprocess

    from tests.live import BIN

    token = live.create_user("alice")
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("REGCTL_")}
    env.update({"XDG_CONFIG_HOME": str(home / "config"), "REGCTL_CACHE_DIR": str(home / "cache")})
    bad = subprocess.run([BIN / "regctl", "login", "--url", live.url, "--token-stdin"], input="rrt_wrong\n",
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 6 and not (home / "config" / "regctl" / "config.json").exists()

    good = subprocess.run([BIN / "regctl", "login", "--url", live.url, "--token-stdin"], input=token + "\n",
                          env=env, capture_output=True, text=True)
    assert good.returncode == 0 and "as alice" in good.stdout
    saved = home / "config" / "regctl" / "config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert token not in good.stdout + good.stderr

    project = make_project(tmp_path / "project", name="alice/resnet")
    pushed = subprocess.run([BIN / "regctl", "push", project], env=env, capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr


def test_keys_list_shows_the_keys_registered_for_the_account(regctl_as):
    alice = regctl_as("alice")
    empty = alice("keys", "list")
    assert empty.code == 0 and "no signing keys registered" in empty.stdout
    created = alice("keys", "create", "--name", "laptop", "--json").json()
    listed = alice("keys", "list", "--json")
    assert listed.code == 0
    assert [(key["id"], key["name"]) for key in listed.json()] == [(created["key_id"], "laptop")]
    text = alice("keys", "list").stdout
    assert created["key_id"] in text and "laptop" in text
    assert regctl_as("bob")("keys", "list", "--json").json() == []  # another account's keys are its own


def test_the_global_url_option_overrides_regctl_url_for_one_command(live, regctl_as, tmp_path):
    alice = regctl_as("alice")
    assert alice("push", make_project(tmp_path / "p", name="alice/resnet")).code == 0
    alice.env["REGCTL_URL"] = "http://127.0.0.1:9"  # nothing listens there
    assert alice("show", "alice/resnet").code == 5
    shown = alice("--url", live.url, "show", "alice/resnet")
    assert shown.code == 0 and "alice/resnet@1.0.0" in shown.stdout
    pulled = alice("--url", live.url + "/", "pull", "alice/resnet", "-o", tmp_path / "out")
    assert pulled.code == 0, pulled.stderr
    bad = alice("--url", "127.0.0.1:8080", "show", "alice/resnet")
    assert bad.code == 4 and bad.stderr.strip() == ("error: --url '127.0.0.1:8080' must start with http:// or "
                                                     "https://, e.g. http://127.0.0.1:8080")


def test_latest_and_digests_work_in_regctl_as_in_the_api(regctl_as, tmp_path):
    alice = regctl_as("alice")
    assert alice("push", make_project(tmp_path / "v1", name="alice/resnet", version="1.0.0")).code == 0
    assert alice("push", make_project(tmp_path / "v2", name="alice/resnet", version="1.1.0", seed=1)).code == 0
    latest = alice("show", "alice/resnet@latest", "--json")
    assert latest.code == 0, latest.stderr
    assert latest.json()["version"] == "1.1.0"
    assert alice("pull", "alice/resnet@latest", "-o", tmp_path / "out").code == 0
    missing = alice("show", "alice/resnet@2.0.0")
    assert missing.code == 7
    assert missing.stderr.strip() == "error: alice/resnet has no version '2.0.0'; its versions are 1.1.0, 1.0.0"
    malformed = alice("show", "alice/resnet@sha256:12ab")
    assert malformed.code == 4 and "malformed digest 'sha256:12ab'" in malformed.stderr
