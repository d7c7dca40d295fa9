"""Evaluation code as an attacker writes it: read the registry's blobs and database, the verifier's dotfiles,
other verifications' folders, /etc/shadow and secret environment variables, and print them into the report
(whose output tails are public); fork and allocate past the limits; flood the output; keep root's powers."""

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
import requests

from regctl.sandbox import Runner
from tests.factories import METRIC_SCRIPT, author_file, make_eval_project, write_author_file, write_file
from tests.live import BIN, LiveRegistry, Regctl

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}]

#: reads every target it is given and prints what it finds on stdout and stderr, then finishes normally
PROBE = """import os, pathlib
targets = {targets!r}
targets.append(str(pathlib.Path.cwd().parent))  # this verification's other runs
targets.append(os.environ.get("HOME", "/nonexistent"))
found = 0

def show(path, data):
    global found
    found += 1
    text = repr(data[:160])
    print("READ", path, text, flush=True)
    print("READ", path, text, file=sys.stderr, flush=True)

for target in targets:
    root = pathlib.Path(target)
    paths = [root] if not root.is_dir() else sorted(root.rglob("*"))[:200]
    for path in paths:
        try:
            if path.is_file():
                show(path, path.read_bytes())
        except OSError as err:
            print("DENIED", path, type(err).__name__)
for key, value in os.environ.items():
    print("ENV", key, value)
print("PROBE-DONE", found)
metrics = {{"acc": 1.0}}"""


class Exposed:
    """A registry laid out as the embedded default is: ./var (blobs, SQLite database, the worker's key) next to
    the virtualenv in a checkout, and a $HOME full of credentials: all outside /tmp."""

    def __init__(self, database_url: str):
        self.var = ROOT / "var" / f"security-{uuid.uuid4().hex[:10]}"
        self.var.mkdir(parents=True)
        self.secrets: list[str] = []
        if database_url.startswith("sqlite:///"):
            self.database = self.var / "registry.db"
            shutil.copy(database_url[len("sqlite:///"):], self.database)
            database_url = f"sqlite:///{self.database}"
            self.secrets.append("SQLite format 3")
        else:
            self.database = None
        self.server_home = self.home("server-home")
        self.db_password = f"pass-{uuid.uuid4().hex[:8]}"
        self.secrets.append(self.db_password)
        self.registry = LiveRegistry(database_url, self.var / "blobs", self.var / "server.log",
                                     HOME=str(self.server_home), MY_DB_URL=f"postgresql://u:{self.db_password}@h/db")
        self.other = Path(f"/tmp/regctl-verify-OTHER-{uuid.uuid4().hex[:8]}")
        self.plant(self.other / "run-0" / "secret.txt", "other-verification")
        self.secrets += ["PRIVATE KEY", Path("/etc/shadow").read_text().splitlines()[0]]

    def plant(self, path: Path, label: str) -> str:
        secret = f"{label}-SECRET-{uuid.uuid4().hex}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secret + "\n")
        self.secrets.append(secret)
        return secret

    def home(self, name: str) -> Path:
        """A home folder with the dotfiles a deny-list forgets, and ~/.aws as a symbolic link."""
        home = self.var / name
        for dotfile in (".pgpass", ".npmrc", ".bash_history", ".config/regctl/config.json"):
            self.plant(home / dotfile, f"{name}{dotfile}")
        self.plant(self.var / f"{name}-aws" / "credentials", f"{name}-aws")
        (home / ".aws").symlink_to(self.var / f"{name}-aws")
        return home

    def user(self, name: str) -> Regctl:
        regctl = Regctl(self.registry, self.home(f"home-{name}"), self.registry.create_user(name))
        regctl.env["MY_DB_URL"] = f"postgresql://u:{self.db_password}@h/db"
        return regctl

    def targets(self) -> list[str]:
        """What the probe reads: the registry's blobs, database and var folder (worker key, homes), another
        verification's folder and /etc/shadow (printed last, so the output tails keep them)."""
        return [str(p) for p in (self.var, self.registry.blob_dir, self.database, self.server_home, self.other,
                                 "/etc/shadow") if p]

    def leaked(self, text: str) -> list[str]:
        return [secret for secret in self.secrets if secret in text]

    def cleanup(self) -> None:
        shutil.rmtree(self.var, ignore_errors=True)
        shutil.rmtree(self.other, ignore_errors=True)


@pytest.fixture
def exposed(database_url):
    exposed = Exposed(database_url)
    exposed.registry.start()
    yield exposed
    exposed.registry.stop()
    exposed.cleanup()


def _push_private_artifact(exposed: Exposed, tmp_path: Path) -> None:
    """Another user's private file: its bytes sit in the blob folder."""
    carol = exposed.user("carol")
    folder = tmp_path / "private"
    write_file(folder / "weights" / "model.safetensors", 2048)
    exposed.plant(folder / "notes.txt", "carol-private-blob")
    document = author_file(name="carol/private", files=["weights/model.safetensors", "notes.txt"], claims=[],
                           evaluation={"command": "true {files} {metrics}", "accelerator": "cpu", "timeout_s": 60},
                           training={"compute": {"hardware": "1 CPU"}}, release={"visibility": "private"})
    write_author_file(folder, document)
    assert carol("push", folder).code == 0


def _push_probe(exposed: Exposed, tmp_path: Path, name: str, extra: list[str]) -> Regctl:
    author = exposed.user("demo")
    body = PROBE.format(targets=exposed.targets() + extra)
    project = make_eval_project(tmp_path / "probe", name, METRIC_SCRIPT.format(body=body), CLAIMS)
    assert author("push", project).code == 0, "the probe could not be pushed"
    return author


def test_a_reviewers_run_prints_no_secret_of_the_registry_the_home_or_other_runs(exposed, tmp_path):
    _push_private_artifact(exposed, tmp_path)
    work = exposed.var / "reviewer-work"
    exposed.plant(work / "run-9" / "secret.txt", "sibling-run")
    _push_probe(exposed, tmp_path, "demo/probe", [str(work)])
    reviewer = exposed.user("rev")
    result = reviewer("verify", "demo/probe", "--json", "--yes", "--workdir", work)
    assert result.code == 0, result.stdout + result.stderr
    report = result.json()
    assert report["outcome"] == "reproduced" and "PROBE-DONE" in report["runs"][0]["stdout_tail"]
    assert "READ" in report["runs"][0]["stdout_tail"]  # it did read its own files: the probe is not blind
    assert exposed.leaked(result.stdout) == []


def test_the_reference_worker_publishes_no_secret_of_the_server_it_runs_in(exposed, tmp_path):
    _push_private_artifact(exposed, tmp_path)
    author = _push_probe(exposed, tmp_path, "demo/probe", [str(exposed.registry.blob_dir.parent / "worker")])
    result = author("verify", "demo/probe", "--remote", "--json", timeout=180)
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["submitted"]["role"] == "reference-worker"
    assert "PROBE-DONE" in report["runs"][0]["stdout_tail"]
    published = requests.get(f"{exposed.registry.url}/api/v1/artifacts/demo/probe/versions/1.0.0/verifications")
    assert published.status_code == 200 and "PROBE-DONE" in published.text
    assert exposed.leaked(result.stdout) == [] and exposed.leaked(published.text) == []


# -- limits on the whole process tree, by each mechanism -------------------------------------------------------

FORK_200 = """import os, time
children = []
for _ in range(200):
    pid = os.fork()
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("ALL-FORKED")
"""

FOUR_TIMES_200_MB = """import os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(200 * 1024 * 1024)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        time.sleep(3)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("ALL-ALLOCATED")
"""


def _run(tmp_path: Path, source: str, **limits):
    files, workdir = tmp_path / "files", tmp_path / "run-0"
    files.mkdir()
    workdir.mkdir()
    (files / "eval.py").write_text(source)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "VIRTUAL_ENV": str(BIN.parent)}
    return Runner(sandboxed=True).run(f"python {files / 'eval.py'}", workdir, files, env=env, **limits)


def _leftover_cgroups() -> list[Path]:
    """cgroups this test process made and did not remove."""
    mounts = {Path(line.split()[1]) for line in Path("/proc/self/mounts").read_text().splitlines()
              if line.split()[2] in ("cgroup", "cgroup2")}
    return [folder for mount in mounts for folder in mount.rglob(f"regctl-{os.getpid()}-*") if folder.is_dir()]


@pytest.fixture(params=["cgroup", "watchdog"])
def mechanism(request, monkeypatch):
    monkeypatch.setenv("REGCTL_SANDBOX_LIMITS", request.param)
    return request.param


def test_two_hundred_forks_are_killed_at_the_process_limit(mechanism, tmp_path):
    result = _run(tmp_path, FORK_200, timeout_s=60, memory_mb=2048, max_processes=64)
    assert "ALL-FORKED" not in result.stdout_tail
    assert result.killed == "killed: the process tree hit the process limit of 64 (processes and threads together)"
    assert result.limits["processes"]["hit"] is True
    assert result.limits["processes"]["enforced_by"].startswith(mechanism)
    assert _leftover_cgroups() == []


def test_four_processes_of_200_mb_are_killed_at_a_256_mb_limit(mechanism, tmp_path):
    result = _run(tmp_path, FOUR_TIMES_200_MB, timeout_s=60, memory_mb=256)
    assert "ALL-ALLOCATED" not in result.stdout_tail
    assert result.killed == "killed: the process tree exceeded the memory limit of 256 MB"
    assert result.limits["memory_mb"]["hit"] is True and result.limits["memory_mb"]["value"] == 256
    assert result.limits["memory_mb"]["enforced_by"].startswith(mechanism)
    assert _leftover_cgroups() == []


def test_a_flood_of_output_is_killed_at_the_output_limit_and_its_tail_kept(tmp_path):
    flood = "import sys\nwhile True:\n    sys.stdout.write('x' * 65535 + '\\n')\n"
    result = _run(tmp_path, flood, timeout_s=60, memory_mb=512, max_output_bytes=4 * 2**20)
    assert result.killed.startswith("killed: stdout and stderr together exceeded the output limit")
    assert result.limits["output_bytes"]["hit"] is True and result.stdout_tail.endswith("x\n")


def test_root_in_the_sandbox_has_no_capabilities_and_cannot_change_kernel_settings(tmp_path):
    source = """import pathlib
status = pathlib.Path("/proc/self/status").read_text()
print([line for line in status.splitlines() if line.startswith("CapEff")][0])
try:
    open("/proc/sys/kernel/hostname", "w").write("owned")
    print("WROTE-SYSCTL")
except OSError as err:
    print("REFUSED", err)
"""
    result = _run(tmp_path, source, timeout_s=60, memory_mb=512)
    assert result.exit_code == 0, result.stderr_tail
    assert "CapEff:\t0000000000000000" in result.stdout_tail and "WROTE-SYSCTL" not in result.stdout_tail


def test_limits_and_their_mechanisms_are_in_the_report(exposed, tmp_path):
    author = exposed.user("demo")
    project = make_eval_project(tmp_path / "p", "demo/hog", METRIC_SCRIPT.format(body=FOUR_TIMES_200_MB.replace(
        'print("ALL-ALLOCATED")', 'metrics = {"acc": 1.0}')), CLAIMS, memory_mb=256)
    assert author("push", project).code == 0
    result = exposed.user("rev")("verify", "demo/hog", "--json", "--yes")
    assert result.code == 3
    report = result.json()
    limits = report["runs"][0]["limits"]
    assert report["failure"] == "run with seed 0: killed: the process tree exceeded the memory limit of 256 MB"
    assert limits["memory_mb"]["value"] == 256 and limits["memory_mb"]["enforced_by"] in (
        "cgroup-v1", "cgroup-v2", "watchdog")
    assert limits["network"] == {"value": "none", "enforced_by": "bubblewrap --unshare-net"}
    assert json.dumps(limits)  # part of the signed, published report
