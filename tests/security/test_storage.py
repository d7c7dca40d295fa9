"""Blob storage as an attacker or a careless user meets it: probing for other people's private content, pushing
an empty file, and blobs damaged on the registry's disk (served, not repairable, never found)."""

import json
import subprocess

import requests

from tests.e2e.conftest import live, regctl_as, storage  # noqa: F401  (a registry process and regctl on each database)
from tests.factories import make_project
from tests.live import BIN
from tests.registry.helpers import FILES, digest_of, publish

SECRET = b"alice's unpublished weights " * 5000


def _without_identity(answer: dict) -> dict:
    """An answer with what necessarily differs between two digests (the digest asked about, the session id)
    left out: whatever remains must not tell stored content from unknown content."""
    return {key: value for key, value in answer.items() if key not in ("id", "digest")}


def _ask_for_upload(http, headers, digest: str, size: int):
    response = http.post("/api/v1/uploads", json={"digest": digest, "size": size}, headers=headers)
    return response.status_code, _without_identity(response.json)


def test_someone_elses_private_digest_is_answered_as_if_it_were_unknown(app, http, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    files = {**FILES, "weights/model.safetensors": SECRET}
    assert publish(http, alice, files, visibility="private").status_code == 201
    private, unknown = digest_of(SECRET), digest_of(b"never stored " * 10_000)

    for size in (len(SECRET), len(SECRET) + 1, 1):
        assert _ask_for_upload(http, bob, private, size) == _ask_for_upload(http, bob, unknown, size), size
        answer = http.post("/api/v1/uploads", json={"digest": private, "size": size}, headers=bob).json
        assert answer["complete"] is False and answer["offset"] == 0 and "stored_size" not in json.dumps(answer)
    for probe in ({"digests": [private]}, {"digests": [unknown]}):
        assert http.post("/api/v1/blobs/missing", json=probe, headers=bob).json == {"missing": probe["digests"]}

    # The bytes are the proof: bob uploads them, the upload commits against the stored copy, and he may use it.
    state = http.post("/api/v1/uploads", json={"digest": private, "size": len(SECRET)}, headers=bob).json
    done = http.patch(f"/api/v1/uploads/{state['id']}", data=SECRET, headers={**bob, "Upload-Offset": "0"})
    assert done.status_code == 200 and done.json["complete"] is True
    assert http.post("/api/v1/blobs/missing", json={"digests": [private]}, headers=bob).json == {"missing": []}
    assert publish(http, bob, files, name="bob/copy").status_code == 201
    assert b"".join(app.extensions["registry"].blobs.read(private)) == SECRET


def test_an_empty_file_can_be_pushed_and_pulled(regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", name="alice/package",
                           files=["weights/*.safetensors", "eval.py", "configs/train.yaml", "pkg/__init__.py"])
    (project / "pkg").mkdir()
    (project / "pkg" / "__init__.py").write_bytes(b"")

    pushed = alice("push", project, "--json")
    assert pushed.code == 0, pushed.stderr
    target = tmp_path / "pulled"
    pulled = alice("pull", "alice/package@1.0.0", "-o", target)
    assert pulled.code == 0, pulled.stderr
    assert (target / "pkg" / "__init__.py").read_bytes() == b""
    shown = alice("show", "alice/package@1.0.0", "--json")
    entry = next(entry for entry in shown.json()["manifest"]["files"] if entry["path"] == "pkg/__init__.py")
    assert entry["sha256"] == digest_of(b"") and entry["size"] == 0


def _stored_path(registry, digest: str):
    return registry.blob_dir / "blobs" / "sha256" / digest[7:9] / digest[7:]


def _damage(path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def test_a_correct_upload_replaces_a_damaged_stored_copy(live, regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=300_000, name="alice/resnet",
                           release={"visibility": "private"})
    assert alice("push", project).code == 0
    weights = (project / "weights" / "model.safetensors").read_bytes()
    stored = _stored_path(live, digest_of(weights))
    _damage(stored, bytes(len(weights)))  # same size, other bytes: bit rot, or an operator's mistake

    # Carol cannot read alice's private version, so she proves she has the bytes by uploading them; the commit
    # meets the stored copy and must check it rather than trust it.
    carol = regctl_as("carol")
    other = make_project(tmp_path / "other", weights_size=300_000, name="carol/copy")
    (other / "weights" / "model.safetensors").write_bytes(weights)
    pushed = carol("push", other, "--json")
    assert pushed.code == 0, pushed.stderr
    assert pushed.json()["bytes_uploaded"] >= len(weights)
    assert stored.read_bytes() == weights

    target = tmp_path / "pulled"
    pulled = alice("pull", "alice/resnet@1.0.0", "-o", target)
    assert pulled.code == 0, pulled.stderr
    assert (target / "weights" / "model.safetensors").read_bytes() == weights


def _fsck(registry, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "registry", "storage", "fsck", *args], env=registry.env, capture_output=True,
                          text=True, timeout=300)


def test_fsck_quarantines_a_damaged_blob_and_the_next_push_repairs_it(live, regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=2_000_000, name="alice/resnet")
    assert alice("push", project).code == 0
    clean = _fsck(live)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.splitlines()[0].startswith("checked ")

    weights = (project / "weights" / "model.safetensors").read_bytes()
    digest = digest_of(weights)
    damaged = weights[:1000] + b"\xff" * 16 + weights[1016:]
    _damage(_stored_path(live, digest), damaged)

    found = _fsck(live)
    assert found.returncode == 3, found.stderr
    summary, *listed = found.stdout.splitlines()
    assert "1 damaged" in summary
    assert len(listed) == 1 and listed[0].startswith("damaged") and digest in listed[0]
    quarantined = list((live.blob_dir / "quarantine").rglob(f"{digest[7:]}*"))
    assert [path.read_bytes() for path in quarantined] == [damaged]  # kept for inspection
    assert not _stored_path(live, digest).exists()

    # Never damaged bytes: the download is refused with a clear error, and regctl writes nothing.
    response = requests.get(f"{live.url}/api/v1/artifacts/alice/resnet/blobs/{digest}", timeout=30)
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    refused = alice("pull", "alice/resnet@1.0.0", "-o", tmp_path / "refused")
    assert refused.code == 7, refused.stderr
    assert not (tmp_path / "refused" / "weights" / "model.safetensors").exists()

    report = _fsck(live, "--json")
    assert report.returncode == 3
    assert json.loads(report.stdout)["awaiting_upload"] == [digest]

    # The blob now counts as missing: pushing the same folder again uploads it and serves the version again.
    repushed = alice("push", project, "--json")
    assert repushed.code == 0, repushed.stderr
    assert repushed.json()["bytes_uploaded"] == len(weights) and repushed.json()["created"] is False
    target = tmp_path / "pulled"
    pulled = alice("pull", "alice/resnet@1.0.0", "-o", target)
    assert pulled.code == 0, pulled.stderr
    assert (target / "weights" / "model.safetensors").read_bytes() == weights
    healthy = _fsck(live, "--json")
    assert healthy.returncode == 0, healthy.stdout
    assert json.loads(healthy.stdout)["sound"] is True


def test_fsck_dry_run_reports_without_moving_anything(live, regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=10_000, name="alice/resnet")
    assert alice("push", project).code == 0
    digest = digest_of((project / "eval.py").read_bytes())
    _damage(_stored_path(live, digest), b"print('not what was pushed')\n")
    dry = _fsck(live, "--dry-run", "--json")
    assert dry.returncode == 3
    assert [entry["digest"] for entry in json.loads(dry.stdout)["damaged"]] == [digest]
    assert _stored_path(live, digest).exists() and not (live.blob_dir / "quarantine").exists()
