"""Pulled files as a careless user treats them: edited in place, pulled over, the cache behind them tampered
with. No pull may change another pull or the cache, and no pull may silently overwrite someone's edit."""

import filecmp
import hashlib
from pathlib import Path

from tests.e2e.conftest import live, regctl_as, storage  # noqa: F401  (a registry process and regctl on each database)
from tests.factories import make_project

MB = 1000 * 1000
WEIGHTS = Path("weights") / "model.safetensors"


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _cache_entry(home: Path, digest: str) -> Path:
    return home / "cache" / "blobs" / "sha256" / digest.removeprefix("sha256:")


def test_editing_one_pulled_folder_changes_neither_another_pull_nor_the_cache(regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=2 * MB, name="alice/resnet")
    assert alice("push", project).code == 0
    first, second = tmp_path / "first", tmp_path / "second"
    assert alice("pull", "alice/resnet@1.0.0", "-o", first).code == 0
    assert alice("pull", "alice/resnet@1.0.0", "-o", second).code == 0
    digest = sha256_of(project / WEIGHTS)

    with open(first / WEIGHTS, "r+b") as handle:  # an in-place edit, as a careless script would make
        handle.write(b"overwritten by mistake")
    (first / "eval.py").write_text("print('my local experiment')\n")

    assert filecmp.cmp(project / WEIGHTS, second / WEIGHTS, shallow=False)
    assert filecmp.cmp(project / "eval.py", second / "eval.py", shallow=False)
    assert sha256_of(_cache_entry(alice.home, digest)) == digest

    third = alice("pull", "alice/resnet@1.0.0", "-o", tmp_path / "third", "--json")
    assert third.code == 0, third.stderr
    assert third.json()["bytes_downloaded"] == 0  # served from the cache, which is intact
    assert filecmp.cmp(project / WEIGHTS, tmp_path / "third" / WEIGHTS, shallow=False)


def test_a_cache_entry_tampered_with_is_never_copied_out(live, regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=2 * MB, name="alice/resnet")
    assert alice("push", project).code == 0
    assert alice("pull", "alice/resnet@1.0.0", "-o", tmp_path / "one").code == 0
    entry = _cache_entry(alice.home, sha256_of(project / WEIGHTS))
    entry.chmod(0o644)
    with open(entry, "r+b") as handle:  # same size, other bytes
        handle.seek(MB)
        handle.write(b"\xff" * 16)
    assert filecmp.cmp(project / WEIGHTS, tmp_path / "one" / WEIGHTS, shallow=False)  # the earlier pull is its own

    again = alice("pull", "alice/resnet@1.0.0", "-o", tmp_path / "two", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["bytes_downloaded"] == 2 * MB  # the damaged entry was dropped and fetched again
    assert filecmp.cmp(project / WEIGHTS, tmp_path / "two" / WEIGHTS, shallow=False)
    assert sha256_of(entry) == sha256_of(project / WEIGHTS)


def test_pulling_over_a_locally_changed_file_refuses_unless_forced(regctl_as, tmp_path):  # noqa: F811
    alice = regctl_as("alice")
    project = make_project(tmp_path / "project", weights_size=MB, name="alice/resnet")
    assert alice("push", project).code == 0
    out = tmp_path / "out"
    assert alice("pull", "alice/resnet@1.0.0", "-o", out).code == 0
    (out / "eval.py").write_text("print('my local experiment')\n")
    (out / "configs" / "train.yaml").write_text("lr: 1.0\n")
    untouched = (out / WEIGHTS).stat().st_mtime_ns

    refused = alice("pull", "alice/resnet@1.0.0", "-o", out)
    assert refused.code == 4
    assert refused.stderr.count("\n") == 1
    assert "2 file(s)" in refused.stderr and "configs/train.yaml, eval.py" in refused.stderr
    assert "--force" in refused.stderr
    assert (out / "eval.py").read_text() == "print('my local experiment')\n"
    assert (out / "configs" / "train.yaml").read_text() == "lr: 1.0\n"

    as_json = alice("pull", "alice/resnet@1.0.0", "-o", out, "--json")
    assert as_json.code == 4
    assert as_json.json()["error"]["code"] == "LOCAL_CHANGES"
    assert as_json.json()["error"]["details"]["paths"] == ["configs/train.yaml", "eval.py"]

    forced = alice("pull", "alice/resnet@1.0.0", "-o", out, "--force", "--json")
    assert forced.code == 0, forced.stderr
    assert forced.json()["overwritten"] == ["configs/train.yaml", "eval.py"]
    assert forced.json()["unchanged"] == 2
    assert filecmp.cmp(project / "eval.py", out / "eval.py", shallow=False)
    assert filecmp.cmp(project / "configs" / "train.yaml", out / "configs" / "train.yaml", shallow=False)
    assert (out / WEIGHTS).stat().st_mtime_ns == untouched  # files already right are left alone

    again = alice("pull", "alice/resnet@1.0.0", "-o", out, "--json")
    assert again.code == 0
    assert again.json()["unchanged"] == 4 and again.json()["overwritten"] == []
