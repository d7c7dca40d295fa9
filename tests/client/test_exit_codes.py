"""Every way regctl ends: each documented exit code, driven through the real `regctl` program, ends with one line on
stderr and never a traceback.

0 success · 1 a claim did not hold · 2 integrity failure · 3 the evaluation failed · 4 usage or invalid input ·
5 cannot reach the registry · 6 not authorised · 7 not found · 8 conflict · 9 the registry failed · 130 interrupted.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from regctl import cli
from tests.factories import METRIC_SCRIPT, make_eval_project, make_project
from tests.live import BIN, LiveRegistry, Regctl, free_port, stored_blobs

HOLDS = [{"metric": "acc", "value": 0.9, "dataset": "toy/test", "tolerance": {"abs": 0.01}}]


@pytest.fixture(scope="module")
def registry(migrated_sqlite, tmp_path_factory):
    """One registry process for the whole module (the exit codes are regctl's; one backend is enough)."""
    folder = tmp_path_factory.mktemp("exit-codes")
    shutil.copy(migrated_sqlite, folder / "registry.db")
    live = LiveRegistry(f"sqlite:///{folder / 'registry.db'}", folder / "blobs", folder / "server.log").start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def alice(registry, tmp_path_factory):
    """alice, with three artifacts: one whose claim holds, one whose claim fails, one whose evaluation crashes."""
    home = tmp_path_factory.mktemp("alice")
    alice = Regctl(registry, home, registry.create_user("alice"))
    projects = {
        "alice/holds": METRIC_SCRIPT.format(body="metrics = {'acc': 0.9}"),
        "alice/overclaimed": METRIC_SCRIPT.format(body="metrics = {'acc': 0.5}"),
        "alice/crashes": "raise SystemExit('the evaluation broke')\n",
    }
    for name, source in projects.items():
        folder = make_eval_project(home / name.replace("/", "-"), name, source, HOLDS)
        pushed = alice("push", folder)
        assert pushed.code == 0, pushed.stderr
    return alice


def one_line(result) -> str:
    """The result's stderr, which must be exactly one line and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def run_regctl(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if not key.startswith("REGCTL_")}
    return subprocess.run([BIN / "regctl", *args], env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=120, **kwargs)


# --- 0 ------------------------------------------------------------------------------------------------------------
def test_0_success(alice):
    shown = alice("show", "alice/holds@1.0.0")
    assert shown.code == 0, shown.stderr
    assert "alice/holds@1.0.0" in shown.stdout and shown.stderr == ""
    for args in (["--help"], ["--version"], ["push", "--help"], ["keys", "--help"]):
        result = run_regctl(*args)
        assert result.returncode == 0 and result.stderr == "", (args, result.stderr)


def test_0_a_claim_that_holds_verifies(alice, tmp_path):
    result = alice("verify", "alice/holds@1.0.0", "--workdir", tmp_path / "work", "--yes")
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr


# --- 1 ------------------------------------------------------------------------------------------------------------
def test_1_a_claim_that_does_not_hold(alice, tmp_path):
    result = alice("verify", "alice/overclaimed@1.0.0", "--workdir", tmp_path / "work", "--yes")
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr and "error:" not in result.stderr


# --- 2 ------------------------------------------------------------------------------------------------------------
def test_2_integrity_failure(registry, alice, tmp_path):
    folder = make_project(tmp_path / "damaged", weights_size=5000, seed=42, name="alice/damaged")
    pushed = alice("push", folder, "--json")
    assert pushed.code == 0, pushed.stderr
    weights = pushed_digest_of(alice, "alice/damaged", "weights/model.safetensors")
    blob = next(path for path in stored_blobs(registry) if path.name == weights.split(":")[1])
    blob.write_bytes(b"x" * blob.stat().st_size)  # same size, other bytes

    result = alice("pull", "alice/damaged@1.0.0", "-o", tmp_path / "out")
    assert result.code == 2
    assert one_line(result).startswith("error: ") and "weights/model.safetensors" in result.stderr


def pushed_digest_of(regctl: Regctl, name: str, path: str) -> str:
    files = regctl("show", name, "--json").json()["manifest"]["files"]
    return next(entry["sha256"] for entry in files if entry["path"] == path)


# --- 3 ------------------------------------------------------------------------------------------------------------
def test_3_the_evaluation_failed(alice, tmp_path):
    result = alice("verify", "alice/crashes@1.0.0", "--workdir", tmp_path / "work", "--yes")
    assert result.code == 3, result.stderr
    assert "Traceback" not in result.stderr.split("the evaluation broke")[-1]  # the author's output may show one


# --- 4 ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, says", [
    (["frobnicate"], "error: no such command 'frobnicate' (see 'regctl --help')"),
    (["pull"], "error: missing argument 'NAME[@VERSION|@sha256:DIGEST]' (see 'regctl pull --help')"),
    (["show", "--bogus", "a/b"], "error: no such option '--bogus' (see 'regctl show --help')"),
    (["badge", "a/b", "--kind", "shiny"], "error: invalid value for '--kind': 'shiny' is not one of"),
    (["keys", "remove"], "error: no such command 'remove' (see 'regctl keys --help')"),
    (["venue", "add", "neurips-2026", "bob", "--role", "king"], "error: invalid value for '--role'"),
    (["--url", "ftp://registry.example.org", "show", "a/b"],
     "error: --url 'ftp://registry.example.org' must start with http:// or https://"),
    (["show", "Not/A Name"], "error: 'Not/A Name': namespace 'Not' must be"),
])
def test_4_usage_errors_exit_4_in_one_line_never_2(args, says):
    result = run_regctl(*args, env={"REGCTL_URL": "http://127.0.0.1:9"})
    assert result.returncode == 4, result.stderr
    assert one_line(result).startswith(says)


@pytest.mark.parametrize("url, hint", [
    ("127.0.0.1:8080", "must start with http:// or https://, e.g. http://127.0.0.1:8080"),
    ("registry.example.org", "e.g. http://registry.example.org"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("http://", "names no host"),
    ("http://127.0.0.1:99999", "is not a valid address"),
])
def test_4_a_registry_address_without_its_scheme_is_a_usage_error(url, hint):
    result = run_regctl("show", "alice/holds", env={"REGCTL_URL": url})
    assert result.returncode == 4
    line = one_line(result)
    assert line.startswith(f"error: REGCTL_URL {url!r}") and hint in line


def test_4_a_malformed_digest_is_named_so(alice):
    result = alice("pull", "alice/holds@sha256:abc123")
    assert result.code == 4
    assert "malformed digest 'sha256:abc123'" in one_line(result)


def test_4_without_a_token_a_push_says_how_to_get_one(registry, tmp_path):
    anonymous = Regctl(registry, tmp_path, None)
    result = anonymous("push", make_project(tmp_path / "p", name="alice/anon"))
    assert result.code == 4
    assert one_line(result) == "error: no token: run 'regctl login' or set REGCTL_TOKEN"


def test_4_a_file_regctl_cannot_write_is_one_line(alice, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = alice("pull", "alice/holds@1.0.0", "-o", blocker / "out")
    assert result.code == 4
    assert one_line(result).startswith("error: ")


# --- 5 ------------------------------------------------------------------------------------------------------------
def test_5_cannot_reach_the_registry():
    result = run_regctl("show", "alice/holds", env={"REGCTL_URL": f"http://127.0.0.1:{free_port()}"})
    assert result.returncode == 5
    assert "cannot reach the registry" in one_line(result) and "connection refused" in result.stderr


# --- 6 ------------------------------------------------------------------------------------------------------------
def test_6_not_authorised(registry, tmp_path):
    stranger = Regctl(registry, tmp_path, "rrt_" + "x" * 43)
    result = stranger("keys", "list")
    assert result.code == 6
    assert "the token is unknown or revoked" in one_line(result)


# --- 7 ------------------------------------------------------------------------------------------------------------
def test_7_not_found_names_the_versions_there_are(alice):
    missing = alice("show", "alice/nothing-here")
    assert missing.code == 7
    assert "no artifact named 'alice/nothing-here'" in one_line(missing)

    version = alice("show", "alice/holds@9.9.9")
    assert version.code == 7
    assert one_line(version) == "error: alice/holds has no version '9.9.9'; its versions are 1.0.0"


# --- 8 ------------------------------------------------------------------------------------------------------------
def test_8_conflict(alice, tmp_path):
    folder = make_project(tmp_path / "v", name="alice/conflicted")
    assert alice("push", folder).code == 0
    (folder / "eval.py").write_text("print('changed after publishing')\n")
    result = alice("push", folder)
    assert result.code == 8
    assert one_line(result).startswith("error: ")


# --- 9 ------------------------------------------------------------------------------------------------------------
class _FailingRegistry(BaseHTTPRequestHandler):
    """A registry that fails every request: with the error envelope on /api/v1/artifacts, without one elsewhere."""

    def do_GET(self):  # noqa: N802 - the http.server name
        if "/artifacts/" in self.path:
            body = json.dumps({"error": {"code": "INTERNAL_ERROR", "message": "the registry failed; it is logged",
                                         "details": {}}}).encode()
        else:
            body = b"<html>Internal Server Error</html>"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_9_the_registry_failed(failing_registry):
    with_envelope = run_regctl("show", "alice/holds", env={"REGCTL_URL": failing_registry})
    assert with_envelope.returncode == 9
    assert one_line(with_envelope) == "error: the registry failed; it is logged"

    without = run_regctl("keys", "list", env={"REGCTL_URL": failing_registry, "REGCTL_TOKEN": "rrt_" + "x" * 43})
    assert without.returncode == 9
    assert one_line(without) == "error: the registry answered HTTP 500 without an error body"


# --- 130 ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def silent_registry():
    """A registry that accepts connections and never answers: regctl waits on it until interrupted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener
    listener.close()


@pytest.mark.parametrize("command", [["pull", "alice/holds", "-o", "out"], ["show", "alice/holds"], ["push", "."]])
def test_130_ctrl_c_while_waiting_on_the_registry(silent_registry, tmp_path, command):
    make_project(tmp_path, name="alice/interrupted")
    env = {key: value for key, value in os.environ.items() if not key.startswith("REGCTL_")}
    env.update({"REGCTL_URL": f"http://127.0.0.1:{silent_registry.getsockname()[1]}", "REGCTL_TOKEN": "rrt_" + "x" * 43,
                "REGCTL_CACHE_DIR": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")})
    process = subprocess.Popen([BIN / "regctl", *command], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    silent_registry.settimeout(60)
    connection, _ = silent_registry.accept()  # regctl is now waiting for an answer
    try:
        connection.recv(1024)  # its request arrived
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        connection.close()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == ["interrupted; run the same command again to resume"]


def test_130_ctrl_c_at_a_prompt(tmp_path):
    """A prompt (login asks for the token) turns Ctrl-C or the end of its input into click's Abort: still 130."""
    env = {"REGCTL_URL": "http://127.0.0.1:9", "REGCTL_TOKEN": "", "XDG_CONFIG_HOME": str(tmp_path)}
    result = CliRunner().invoke(cli.main, ["login"], input="", env=env)
    assert result.exit_code == 130
    assert "interrupted" in result.output and "Aborted" not in result.output


# --- the documentation -------------------------------------------------------------------------------------------
def test_the_help_documents_every_exit_code_and_an_example():
    shown = run_regctl("--help").stdout
    for code in ("0 success", "1 a claim did not hold", "2 integrity failure", "3 evaluation failed",
                 "4 usage or invalid input", "5 cannot reach the registry", "6 not authorised", "7 not found",
                 "8 conflict", "9 the registry", "130 interrupted (Ctrl-C)"):
        assert code in shown, code
    assert "Example:" in shown and "regctl push examples/hello" in shown


def test_the_help_gives_every_command_one_full_line(tmp_path):
    shown = run_regctl("--help", env={"COLUMNS": "80"}).stdout
    listing = shown.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = [line.split()[0] for line in listing if line.startswith("  ") and not line.startswith("   ")]
    assert {"push", "pull", "show", "verify", "yank", "login", "keys", "badge", "venue"} <= set(names)
    assert len(listing) == len(names), "a command's line wraps:\n" + "\n".join(listing)
    for line in listing:
        assert not line.rstrip().endswith("...") and len(line) <= 80, line
