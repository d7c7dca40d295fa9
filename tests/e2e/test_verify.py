"""regctl verify against a registry process: sandbox, verdicts, signatures and badge states."""

import base64
import json
import os
from pathlib import Path

import pytest
import requests

from tests.factories import METRIC_SCRIPT, make_eval_project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def author(regctl_as):
    return regctl_as("demo")


@pytest.fixture
def reviewer(live, regctl_as):
    """A reviewer on the committee of demo-2026, the venue the examples name: their verifications earn badges."""
    reviewer = regctl_as("rev")
    chair = regctl_as("chair")
    live.admin("venues", "create", "demo-2026", "--title", "Demo Conference 2026", "--chair", "chair")
    assert chair("venue", "add", "demo-2026", "rev").code == 0
    assert reviewer("keys", "create").code == 0
    return reviewer


def badges(live, name, version="latest"):
    return requests.get(f"{live.url}/api/v1/artifacts/{name}/versions/{version}/badges").json()


def test_a_reproducible_example_verifies_and_a_submitted_report_makes_it_reproduced(live, author, reviewer,
                                                                                     tmp_path):
    assert author("push", EXAMPLES / "digits-logreg").code == 0
    assert badges(live, "demo/digits-logreg")["reproduced_state"] == "not verified"

    result = reviewer("verify", "demo/digits-logreg", "--yes", "--submit", "--workdir", tmp_path / "work")
    assert result.code == 0, result.stdout + result.stderr
    assert "HELD" in result.stdout and "FAILED" not in result.stdout
    assert "Author code from demo" in result.stderr and "eval.py" in result.stderr
    assert "signature valid" in result.stdout

    states = badges(live, "demo/digits-logreg")
    assert states["reproduced"] and states["functional"] and states["available"] and states["checklist"]
    listing = requests.get(f"{live.url}/api/v1/artifacts/demo/digits-logreg/versions/1.0.0/verifications").json()
    assert [(v["role"], v["outcome"], v["signature_status"]) for v in listing] == [
        ("reviewer", "reproduced", "valid")]
    environment = listing[0]["environment"]
    assert environment["python"] and "numpy" in environment["packages"] and environment["cpu"]
    assert environment["accelerator_requested"] == environment["accelerator_used"] == "cpu"


def test_verify_shows_the_exact_command_and_without_a_terminal_runs_nothing_unless_yes(author, reviewer, tmp_path):
    assert author("push", EXAMPLES / "digits-logreg").code == 0
    work = tmp_path / "work"
    refused = reviewer("verify", "demo/digits-logreg", "--workdir", work)
    assert refused.code == 4, refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: not run: regctl asks before running someone else's code and there is no terminal to ask on; "
        "pass --yes to run it")
    # the command as it would run, every placeholder filled in
    assert (f"python {work}/files/eval.py --weights {work}/files/weights/model.safetensors "
            f"--out {work}/run-0/metrics.json") in refused.stderr
    assert "{files}" not in refused.stderr and not (work / "run-0").exists()

    ran = reviewer("verify", "demo/digits-logreg", "--yes", "--workdir", tmp_path / "again")
    assert ran.code == 0, ran.stderr
    assert "run: exit 0" in ran.stdout and "seed" not in ran.stdout  # the command takes no {seed}
    assert "accuracy  digits/test  0.9648" in ran.stdout


def test_the_failing_example_exits_1_and_a_later_failure_is_shown(live, author, reviewer, regctl_as):
    assert author("push", EXAMPLES / "iris-overclaimed").code == 0
    result = reviewer("verify", "demo/iris-overclaimed", "--yes", "--json", "--submit")
    assert result.code == 1
    report = result.json()
    assert report["outcome"] == "claim_failed" and len(report["runs"]) == 3
    verdicts = {v["metric"]: v for v in report["claims"]}
    assert verdicts["accuracy"]["verdict"] == "failed" and "2·std·√(2/n)" in verdicts["accuracy"]["rule"]
    assert verdicts["macro_f1"]["verdict"] == "held"
    states = badges(live, "demo/iris-overclaimed")
    assert states["functional"] and not states["reproduced"] and states["reproduced_state"] == "failed"


def test_the_authors_own_verification_never_makes_reproduced(live, author, reviewer):
    assert author("push", EXAMPLES / "digits-logreg").code == 0
    assert author("keys", "create").code == 0
    assert author("verify", "demo/digits-logreg", "--yes", "--submit").code == 0
    states = badges(live, "demo/digits-logreg")
    assert not states["reproduced"] and not states["functional"] and states["reproduced_state"] == "not verified"
    assert reviewer("verify", "demo/digits-logreg", "--yes", "--submit").code == 0
    assert badges(live, "demo/digits-logreg")["reproduced"]


def test_a_damaged_blob_exits_2_before_any_author_code_runs(live, author, reviewer, tmp_path):
    assert author("push", EXAMPLES / "digits-logreg").code == 0
    blob = next(p for p in (live.blob_dir / "blobs").rglob("*") if p.is_file() and p.stat().st_size == 2736)
    blob.chmod(0o644)
    blob.write_bytes(b"\0" * 2736)
    result = reviewer("verify", "demo/digits-logreg", "--yes", "--workdir", tmp_path / "work")
    assert result.code == 2
    assert "weights/model.safetensors" in result.stderr
    assert "Author code" not in result.stderr
    assert not list((tmp_path / "work").glob("run-*"))


def test_an_evaluation_that_opens_a_network_socket_fails_inside_the_sandbox(live, author, reviewer, tmp_path):
    port = live.url.rsplit(":", 1)[1]
    body = (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            "metrics = {'acc': 1.0}")
    project = make_eval_project(tmp_path / "p", "demo/phone-home", METRIC_SCRIPT.format(body=body),
                                [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}])
    assert author("push", project).code == 0
    # Outside the sandbox the registry is reachable, so the failure is the sandbox's doing.
    requests.get(f"{live.url}/api/v1/openapi.json").raise_for_status()
    result = reviewer("verify", "demo/phone-home", "--yes", "--json")
    assert result.code == 3
    report = result.json()
    assert report["outcome"] == "evaluation_failed" and report["sandbox"] == "bubblewrap"
    assert "ConnectionRefusedError" in report["runs"][0]["stderr_tail"] or "Network is unreachable" in \
        report["runs"][0]["stderr_tail"]


def test_a_timeout_exits_3(author, reviewer, tmp_path):
    body = "import time\ntime.sleep(30)\nmetrics = {'acc': 1.0}"
    project = make_eval_project(tmp_path / "p", "demo/slow", METRIC_SCRIPT.format(body=body),
                                [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}],
                                timeout_s=2)
    assert author("push", project).code == 0
    result = reviewer("verify", "demo/slow", "--yes", "--json")
    assert result.code == 3
    report = result.json()
    assert report["runs"][0]["timed_out"] is True and "timed out after 2 s" in report["failure"]
    assert report["runs"][0]["wall_time_s"] < 10


@pytest.mark.parametrize("body, failure", [
    ("import sys\nsys.exit(7)\nmetrics = {}", "exited with status 7"),
    ("metrics = {'other': 1.0}", "absent from the output: acc"),
    ("metrics = ['not', 'an', 'object']", "JSON object"),
    ("import os\nos.remove(out) if os.path.exists(out) else None\nraise SystemExit(0)", "did not write"),
])
def test_evaluation_failures_exit_3_with_a_stated_reason(author, reviewer, tmp_path, body, failure):
    project = make_eval_project(tmp_path / "p", "demo/broken", METRIC_SCRIPT.format(body=body),
                                [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}])
    assert author("push", project).code == 0
    result = reviewer("verify", "demo/broken", "--yes", "--json")
    assert result.code == 3
    assert failure in result.json()["failure"]


def test_secrets_are_neither_in_the_environment_nor_on_disk_and_files_are_read_only(author, reviewer, tmp_path):
    body = """import os, pathlib
files = pathlib.Path(__file__).parent
config = pathlib.Path(os.environ["XDG_CONFIG_HOME"]) / "regctl"
try:
    (files / "planted.txt").write_text("x")
    wrote = 1.0
except OSError:
    wrote = 0.0
leaked = [k for k in os.environ if "TOKEN" in k or k.startswith(("AWS_", "REGCTL_"))]
metrics = {"secret_vars": float(len(leaked)), "config_entries": float(len(list(config.glob("*"))) if config.exists()
           else 0), "wrote_files": wrote, "virtualenv": float("VIRTUAL_ENV" in os.environ)}"""
    claims = [{"metric": m, "value": 0.0, "dataset": "x/test", "tolerance": {"max": 0.0}}
              for m in ("secret_vars", "config_entries", "wrote_files")]
    claims.append({"metric": "virtualenv", "value": 1.0, "dataset": "x/test", "tolerance": {"min": 1.0}})
    project = make_eval_project(tmp_path / "p", "demo/snoop", METRIC_SCRIPT.format(body=body), claims)
    assert author("push", project).code == 0
    reviewer.env["AWS_SECRET_ACCESS_KEY"] = "do-not-leak"
    result = reviewer("verify", "demo/snoop", "--yes", "--json")
    assert result.code == 0, json.dumps(result.json()["claims"], indent=1) + result.json()["runs"][0]["stderr_tail"]


def test_a_gpu_evaluation_is_never_judged_on_a_cpu(author, reviewer, tmp_path):
    project = make_eval_project(tmp_path / "p", "demo/needs-gpu", METRIC_SCRIPT.format(body="metrics = {'acc': 1}"),
                                [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}],
                                accelerator="gpu")
    assert author("push", project).code == 0
    result = reviewer("verify", "demo/needs-gpu", "--yes", "--json")
    if result.json()["environment"]["gpus"]:
        pytest.skip("this machine has a GPU")  # never the case on the CI machines
    assert result.code == 3 and "requires a GPU" in result.json()["failure"] and result.json()["runs"] == []


def test_without_a_sandbox_verify_refuses_unless_told(author, reviewer):
    assert author("push", EXAMPLES / "digits-logreg").code == 0
    reviewer.env["REGCTL_BWRAP"] = "/nonexistent/bwrap"
    refused = reviewer("verify", "demo/digits-logreg", "--yes")
    assert refused.code == 3 and "--no-sandbox" in refused.stderr
    unconfined = reviewer("verify", "demo/digits-logreg", "--yes", "--no-sandbox", "--json")
    assert unconfined.code == 0 and unconfined.json()["sandbox"] == "none"


def _signed_submission(reviewer, report: dict) -> dict:
    from cryptography.hazmat.primitives import serialization

    from regctl.keys import bind_to_signer
    from reproreg_schemas.verification import report_bytes

    keys = reviewer.home / "config" / "regctl" / "keys"
    pem = next(keys.glob("*.pem"))
    key_id = json.loads(next(keys.glob("*.json")).read_text())["key_id"]
    private = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    report = bind_to_signer(json.loads(json.dumps(report)), "rev")
    return {"report": report, "key_id": key_id,
            "signature": base64.b64encode(private.sign(report_bytes(report))).decode()}


def test_reports_with_a_bad_signature_or_unfounded_verdicts_are_refused(live, author, reviewer):
    assert author("push", EXAMPLES / "digits-logreg").code == 0
    report = reviewer("verify", "demo/digits-logreg", "--yes", "--json").json()
    url = f"{live.url}/api/v1/artifacts/demo/digits-logreg/versions/1.0.0/verifications"
    headers = {"Authorization": f"Bearer {reviewer.env['REGCTL_TOKEN']}"}

    tampered = _signed_submission(reviewer, report)
    tampered["report"] = {**report, "outcome": "claim_failed"}
    response = requests.post(url, json=tampered, headers=headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_SIGNATURE"

    forged = _signed_submission(reviewer, report)
    forged["signature"] = base64.b64encode(os.urandom(64)).decode()
    assert requests.post(url, json=forged, headers=headers).json()["error"]["code"] == "INVALID_SIGNATURE"

    lying = json.loads(json.dumps(report))
    lying["runs"][0]["metrics"]["accuracy"] = 0.5  # measured badly, but still says "held"
    response = requests.post(url, json=_signed_submission(reviewer, lying), headers=headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "INVALID_REPORT"

    someone_else = {"Authorization": f"Bearer {live.create_user('mallory')}"}
    response = requests.post(url, json=_signed_submission(reviewer, report), headers=someone_else)
    assert response.json()["error"]["code"] == "INVALID_SIGNATURE"

    assert requests.get(url).json() == []
    assert requests.post(url, json=_signed_submission(reviewer, report), headers=headers).status_code == 201


def test_the_memory_limit_stops_an_evaluation_that_asks_for_too_much(author, reviewer, tmp_path):
    body = "hog = bytearray(2 * 1024 ** 3)\nmetrics = {'acc': 1.0}"
    project = make_eval_project(tmp_path / "p", "demo/hog", METRIC_SCRIPT.format(body=body),
                                [{"metric": "acc", "value": 1.0, "dataset": "x/test", "tolerance": {"abs": 0}}],
                                memory_mb=512)
    assert author("push", project).code == 0
    result = reviewer("verify", "demo/hog", "--yes", "--json")
    assert result.code == 3
    run = result.json()["runs"][0]
    assert run["error"] == "killed: the process tree exceeded the memory limit of 512 MB" and run["exit_code"] != 0
    assert run["limits"]["memory_mb"]["hit"] is True
