"""What regctl prints, from the registry's answers (no registry: the answer is given)."""

import json

import pytest
from click.testing import CliRunner

from regctl import cli, commands
from regctl import verify as verifying
from regctl.api import ApiClient
from regctl.cli import verifying as verify_command
from reproreg_schemas.checklist import ITEMS
from reproreg_schemas.jobs import INTEGRITY_FAILURE_PREFIX
from reproreg_schemas.verdicts import judge

PUBLIC = "https://registry.example.org"
DOCUMENT = {
    "name": "alice/resnet", "version": "1.0.0", "digest": "sha256:" + "a" * 64, "visibility": "public",
    "yanked": False, "yank_reason": None, "published_at": "2026-05-01T12:00:00Z", "published_by": "alice",
    "url": f"{PUBLIC}/alice/resnet/1.0.0", "checklist_warnings": [],
    "manifest": {"title": "ResNet", "license": "apache-2.0",
                 "files": [{"path": "weights.safetensors", "size": 3 * 1024**2, "sha256": "sha256:" + "b" * 64}],
                 "checklist": {item: {"answer": "yes", "justification": "see README"} for item in list(ITEMS)[:14]},
                 "claims": [{"metric": "top1", "dataset": "cifar10/test", "value": 0.95, "tolerance": {"rel": 0.02}},
                            {"metric": "loss", "dataset": "cifar10/test", "value": 0.2, "tolerance": {"max": 0.25},
                             "std": 0.01, "n_runs": 3},
                            {"metric": "params", "dataset": "model", "value": 22713728,
                             "tolerance": {"abs": 0}}],
                 "evaluation": {"command": "python eval.py --seed {seed} --out {metrics}", "accelerator": "cpu",
                                "timeout_s": 60}},
}
STATES = {"name": "alice/resnet", "version": "1.0.0", "digest": DOCUMENT["digest"], "yanked": False,
          "available": True, "functional": True, "reproduced": False, "reproduced_state": "failed",
          "checklist": False, "checklist_state": "incomplete",
          "verifications": {"trusted": 1, "held": 0, "failed": 1, "latest_trusted_id": 7},
          "community": {"reports": 2, "reproduced": 1, "claim_failed": 1, "evaluation_failed": 0}}


def verification(id, verifier, role, trusted, runs, when, outcome="claim_failed"):
    """A verification document as GET .../verifications answers it, judged from ``runs`` (metrics per seed)."""
    claims = judge(DOCUMENT["manifest"]["claims"], runs)
    return {"id": id, "verifier": verifier, "role": role, "trusted": trusted, "outcome": outcome,
            "hardware": f"CPU: test ({id} cores)", "created_at": when, "claims": claims,
            "report": {"runs": [{"seed": seed, "metrics": metrics} for seed, metrics in enumerate(runs)]}}


RUNS = [{"top1": 0.95, "loss": 0.21, "params": 22713727}, {"top1": 0.95, "loss": 0.22, "params": 22713727},
        {"top1": 0.95, "loss": 0.23, "params": 22713727}]
VERIFICATIONS = [
    verification(3, "rev", "reviewer", True, [{"top1": 0.5, "loss": 0.1, "params": 22713728}] * 3,
                 "2026-05-02T10:00:00+00:00", outcome="claim_failed"),
    verification(7, "reference", "reference-worker", True, RUNS, "2026-05-03T10:00:00+00:00"),
    verification(8, "stranger", "community", False, [{"top1": 0.1, "loss": 9.0, "params": 1}] * 3,
                 "2026-05-04T10:00:00+00:00"),
    verification(9, "alice", "author", False, [{"top1": 0.2, "loss": 9.0, "params": 2}] * 3,
                 "2026-05-05T10:00:00+00:00"),
]


@pytest.fixture
def answers(monkeypatch):
    """What the registry answers: the version document, its badge states and its verifications."""
    given = {"document": json.loads(json.dumps(DOCUMENT)), "states": dict(STATES),
             "verifications": json.loads(json.dumps(VERIFICATIONS))}
    monkeypatch.setattr(commands, "verified_version", lambda api, ref: json.loads(json.dumps(given["document"])))
    monkeypatch.setattr(ApiClient, "badges", lambda self, name, ref: dict(given["states"]))
    monkeypatch.setattr(ApiClient, "verifications", lambda self, name, ref: given["verifications"])
    return given


@pytest.fixture
def regctl(answers, tmp_path):
    """regctl configured with an internal address; the registry's answer names its public one."""
    env = {"REGCTL_URL": "http://10.0.0.7:8080", "REGCTL_TOKEN": "", "XDG_CONFIG_HOME": str(tmp_path)}

    def run(*args: str, code: int = 0, input: str | None = None) -> str:
        """What regctl printed: stdout, then stderr (only stdout with --json)."""
        result = CliRunner().invoke(cli.main, list(args), env=env, catch_exceptions=False, input=input)
        assert result.exit_code == code, result.output
        return result.stdout if "--json" in args else result.output

    return run


def test_badge_snippets_use_the_address_the_registry_answers_with(regctl):
    markdown, html = regctl("badge", "alice/resnet@1.0.0").splitlines()
    image = f"{PUBLIC}/badges/alice/resnet/1.0.0.svg"
    assert markdown == f"[![reproducibility of alice/resnet 1.0.0]({image})]({PUBLIC}/alice/resnet/1.0.0)"
    assert html == f'<a href="{PUBLIC}/alice/resnet/1.0.0"><img src="{image}" alt="reproducibility of alice/resnet ' \
                   '1.0.0"></a>'
    snippets = json.loads(regctl("badge", "alice/resnet@1.0.0", "--kind", "checklist", "--json"))
    assert snippets["image"] == f"{image}?kind=checklist"
    assert snippets["shields_endpoint"] == f"{PUBLIC}/badges/alice/resnet/1.0.0.json?kind=checklist"


def test_show_prints_sizes_and_tolerances_as_the_pages_do(regctl):
    output = regctl("show", "alice/resnet@1.0.0")
    assert "3.0 MiB" in output
    assert "± 2 %" in output and "≤ 0.25 · std 0.01 over 3 runs" in output


def test_show_carries_the_badges_and_each_claims_latest_trusted_verification(regctl):
    output = regctl("show", "alice/resnet@1.0.0")
    assert "available: yes · functional: yes · reproduced: FAILED · checklist 14/21 (incomplete)" in output
    lines = {line.split()[0]: line for line in output.splitlines() if line.split()[:1] in (["top1"], ["loss"],
                                                                                          ["params"])}
    # the reference worker's run (#7) is the latest trusted one; the community's and the author's never count
    assert "22713728" in lines["params"] and "22713727" in lines["params"] and "e+07" not in output
    assert lines["params"].split()[2:7] == ["22713728", "±", "0", "22713727", "FAILED"] and "#7" in lines["params"]
    assert "0.95 " in lines["top1"] and "|mean of 3 runs − claimed| ≤ 0.019 (rel 0.02)" in lines["top1"]
    # the mean of 0.95, 0.95 and 0.95 is 0.95, not 0.9499999999999998
    assert lines["top1"].split()[2:8] == ["0.95", "±", "2", "%", "0.95", "HELD"]
    assert "0.22 " in lines["loss"] and "mean of 3 runs: 0.21, 0.22, 0.23" in lines["loss"]
    assert "#7: reference (reference-worker) on CPU: test (7 cores), 2026-05-03T10:00:00+00:00" in output
    assert "#3" not in output and "#8" not in output and "#9" not in output
    assert "community reports: 2" in output


def test_show_json_carries_the_same_record(regctl):
    shown = json.loads(regctl("show", "alice/resnet@1.0.0", "--json"))
    assert shown["digest"] == DOCUMENT["digest"] and shown["badges"]["reproduced_state"] == "failed"
    assert shown["checklist"] == {"answered": 14, "items": 21} and shown["community_reports"] == 2
    params = next(c for c in shown["claims"] if c["metric"] == "params")
    assert params["claimed"] == 22713728
    latest = params["latest_trusted"]
    assert (latest["measured"], latest["verdict"], latest["verifier"], latest["role"], latest["verification_id"]) \
        == (22713727, "failed", "reference", "reference-worker", 7)
    assert latest["hardware"] == "CPU: test (7 cores)" and latest["created_at"] == "2026-05-03T10:00:00+00:00"
    loss = next(c for c in shown["claims"] if c["metric"] == "loss")
    assert loss["latest_trusted"]["measured_runs"] == [0.21, 0.22, 0.23]


def test_show_takes_the_checklist_count_from_the_badge_states_when_given(regctl, answers):
    answers["states"].update(checklist_answered=20, checklist_items=21)
    assert "checklist 20/21" in regctl("show", "alice/resnet@1.0.0")


def test_show_of_a_version_never_verified_and_of_a_draft(regctl, answers):
    answers["verifications"] = []
    answers["states"].update(functional=False, reproduced_state="not verified",
                             community={"reports": 0, "reproduced": 0, "claim_failed": 0, "evaluation_failed": 0})
    output = regctl("show", "alice/resnet@1.0.0")
    assert "reproduced: not verified" in output and output.count("not verified") == 4  # the badge and 3 claims
    assert "community reports: 0" in output
    answers["document"]["manifest"].update(claims=[], evaluation=None)
    output = regctl("show", "alice/resnet@1.0.0")
    assert "no claims to verify" in output and "claims (" not in output
    assert json.loads(regctl("show", "alice/resnet@1.0.0", "--json"))["claims"] == []


# --- regctl verify ------------------------------------------------------------------------------------------
def report(command: str, runs: list[dict]) -> dict:
    claims = judge(DOCUMENT["manifest"]["claims"], runs)
    return {"name": "alice/resnet", "version": "1.0.0", "digest": DOCUMENT["digest"], "command": command,
            "sandbox": "bubblewrap", "job": None,
            "environment": {"accelerator_requested": "cpu", "accelerator_used": "cpu", "python": "3.12",
                            "cpu": "test"},
            "runs": [{"seed": seed, "exit_code": 0, "wall_time_s": 1.0, "timed_out": False, "stderr_tail": "",
                      "metrics": metrics} for seed, metrics in enumerate(runs)],
            "claims": claims, "outcome": "claim_failed", "failure": None}


@pytest.fixture
def local_verify(monkeypatch):
    """regctl verify with the evaluation replaced: it says what would run (the question), then reports."""
    ran = []

    def fake(api, cache, ref, options, notice):
        notice("Author code from alice will run in the bubblewrap sandbox (no network):\n  python eval.py")
        ran.append(ref)
        return report("python eval.py --seed {seed} --out {metrics}", RUNS)

    monkeypatch.setattr(verifying, "verify", fake)
    return ran


def test_verify_prints_exact_numbers_rules_and_runs(regctl, local_verify):
    output = regctl("verify", "alice/resnet", "--yes", code=1)
    assert "run seed 0: exit 0" in output and "run seed 2: exit 0" in output
    params = next(line for line in output.splitlines() if line.startswith("params"))
    assert "22713728" in params and "22713727" in params and "FAILED" in params
    assert "mean of 3 runs: 0.21, 0.22, 0.23" in output
    assert "outcome: claim failed" in output


def test_run_seed_is_printed_only_when_the_command_takes_a_seed(capsys):
    verify_command._print_report(report("python eval.py --out {metrics}", RUNS[:1]))
    output = capsys.readouterr().out
    assert "run: exit 0, 1.00 s" in output and "seed" not in output


def test_without_a_terminal_verify_refuses_unless_yes(regctl, local_verify):
    output = regctl("verify", "alice/resnet", code=4)
    assert output.strip().splitlines()[-1] == ("error: not run: regctl asks before running someone else's code and "
                                               "there is no terminal to ask on; pass --yes to run it")
    assert "python eval.py" in output  # what would have run is shown
    assert json.loads(regctl("verify", "alice/resnet", "--json", code=4))["error"]["code"] == "CONFIRMATION_REQUIRED"


def test_on_a_terminal_verify_asks_and_the_default_is_no(regctl, local_verify, monkeypatch):
    monkeypatch.setattr(verify_command, "_interactive", lambda: True)
    output = regctl("verify", "alice/resnet", input="\n", code=4)
    assert "Run it on this machine? [y/N]" in output and "error: not run: you declined" in output
    assert local_verify == []
    output = regctl("verify", "alice/resnet", input="y\n", code=1)
    assert "outcome: claim failed" in output


class FakeJobs:
    """The registry's answers while a reference job runs, ending in ``final``."""

    def __init__(self, final: dict, recorded: dict | None = None):
        self.states = [{"state": "queued", "worker": None, "log": ""},
                       {"state": "running", "worker": "reference/w1", "hardware": "cpu=test", "log": "leased\n"},
                       {"worker": "reference/w1", "hardware": "cpu=test", "log": "leased\nfinished\n", **final}]
        self.recorded = recorded

    def request_job(self, name, version):
        return {"id": "job1", "name": name, "version": "1.0.0", "accelerator": "cpu", "timeout_s": 60}

    def get_job(self, job_id):
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"id": job_id, "name": "alice/resnet", "version": "1.0.0", "digest": DOCUMENT["digest"],
                "attempt": 1, "failure": None, "verification_id": None, "outcome": None, **state}

    def verifications(self, name, reference):
        return [self.recorded]


@pytest.fixture
def remote(monkeypatch):
    def use(fake: FakeJobs):
        monkeypatch.setattr(verify_command, "api_client", lambda token_required=False: fake)
        monkeypatch.setattr("time.sleep", lambda seconds: None)
    return use


def test_a_remote_job_that_found_a_claim_false_succeeded_and_exits_1(regctl, remote):
    recorded = {"id": 7, "role": "reference-worker", "signature_status": "valid",
                "report": {**report("python eval.py --seed {seed} --out {metrics}", RUNS), "job": "job1"}}
    remote(FakeJobs({"state": "succeeded", "outcome": "claim_failed", "verification_id": 7}, recorded))
    output = regctl("verify", "alice/resnet", "--remote", code=1)
    assert "job job1: succeeded (it ran; outcome: claim failed)" in output
    assert "job job1: succeeded (it ran on the reference worker)" in output and "outcome: claim failed" in output
    assert "job job1: failed" not in output


@pytest.mark.parametrize("failure, code", [(INTEGRITY_FAILURE_PREFIX + "weights.safetensors: sha256 mismatch", 2),
                                           ("the worker stopped responding on every attempt", 3)])
def test_a_remote_job_that_could_not_run_exits_2_for_integrity_else_3(regctl, remote, failure, code):
    remote(FakeJobs({"state": "error", "failure": failure}))
    output = regctl("verify", "alice/resnet", "--remote", code=code)
    assert output.strip().splitlines()[-1] == f"error: job job1 could not run: {failure}"

