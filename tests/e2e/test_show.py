"""regctl show against a registry process: badge states, each claim's latest trusted verification, community
reports, drafts."""

from pathlib import Path

import pytest

from reproreg_schemas.units import exact_number
from tests.factories import make_project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def reviewer(live, regctl_as):
    """A reviewer on the committee of demo-2026, the venue the examples name."""
    reviewer, chair = regctl_as("rev"), regctl_as("chair")
    live.admin("venues", "create", "demo-2026", "--title", "Demo Conference 2026", "--chair", "chair")
    assert chair("venue", "add", "demo-2026", "rev").code == 0
    assert reviewer("keys", "create").code == 0
    return reviewer


def test_show_carries_the_verdicts_who_found_them_and_the_community_reports(regctl_as, reviewer):
    author, stranger = regctl_as("demo"), regctl_as("stranger")
    assert author("push", EXAMPLES / "iris-overclaimed").code == 0
    before = author("show", "demo/iris-overclaimed")
    assert before.code == 0, before.stderr
    assert "reproduced: not verified" in before.stdout and "checklist 21/21" in before.stdout
    assert "community reports: 0" in before.stdout

    verified = reviewer("verify", "demo/iris-overclaimed", "--yes", "--submit")
    assert verified.code == 1, verified.stderr
    assert "run seed 0:" in verified.stdout and "run seed 2:" in verified.stdout  # the command takes {seed}
    assert "mean of 3 runs: " in verified.stdout and "outcome: claim failed" in verified.stdout
    assert stranger("keys", "create").code == 0
    assert stranger("verify", "demo/iris-overclaimed", "--yes", "--submit").code == 1

    shown = author("show", "demo/iris-overclaimed", "--json")
    assert shown.code == 0, shown.stderr
    record = shown.json()
    assert record["badges"]["reproduced_state"] == "failed" and record["badges"]["functional"]
    assert record["checklist"] == {"answered": 21, "items": 21} and record["community_reports"] == 1
    accuracy = next(c for c in record["claims"] if c["metric"] == "accuracy")
    latest = accuracy["latest_trusted"]
    assert (latest["verifier"], latest["role"], latest["verdict"]) == ("rev", "reviewer", "failed")
    assert latest["hardware"].startswith("CPU") and latest["created_at"] and len(latest["measured_runs"]) == 3

    text = author("show", "demo/iris-overclaimed").stdout
    assert "reproduced: FAILED" in text and "community reports: 1" in text
    row = next(line for line in text.splitlines() if line.startswith("accuracy"))
    assert f" {exact_number(latest['measured'])} " in row and "FAILED" in row
    assert "mean of 3 runs: " + ", ".join(map(exact_number, latest["measured_runs"])) in row
    assert f"#{latest['verification_id']}: rev (reviewer) on CPU" in text
    assert "stranger" not in text  # a community report never stands for a claim's verification


def test_a_draft_shows_no_claims_to_verify_and_verify_says_so(regctl_as, tmp_path):
    author = regctl_as("demo")
    draft = make_project(tmp_path / "base", name="demo/base-model", claims=[], evaluation=None,
                         files=["weights/*.safetensors", "configs/train.yaml", "requirements.txt"])
    pushed = author("push", draft)
    assert pushed.code == 0, pushed.stderr
    shown = author("show", "demo/base-model")
    assert shown.code == 0 and "no claims to verify" in shown.stdout and "claims (" not in shown.stdout
    as_json = author("show", "demo/base-model", "--json")
    assert as_json.code == 0, as_json.stderr
    assert as_json.json()["claims"] == []
    refused = author("verify", "demo/base-model", "--yes", "--workdir", tmp_path / "work")
    assert refused.code == 4
    assert refused.stderr.strip() == ("error: demo/base-model@1.0.0 has no claims to verify (it has no claims and "
                                      "no evaluation); nothing was downloaded or run")
    assert not (tmp_path / "work" / "files").exists()
