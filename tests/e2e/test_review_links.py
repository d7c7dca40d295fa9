"""Responsible release end to end, real regctl processes against a registry process: an anonymous review link
pulled without an account and viewed in a browser with no owner or author name in the DOM; a version verified
through its link (sandbox, every claim judged) with no name in anything regctl prints or writes; a staged release
pushed from regctl.yaml; gated access requested and approved on the command line."""

import os
from pathlib import Path

import pytest
import requests
import yaml

from tests.factories import METRIC_SCRIPT, make_eval_project, make_project, write_author_file

SCREENSHOTS = Path(os.environ.get("REGISTRY_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output"))
CHROMIUM = os.environ.get("REGISTRY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_a_review_link_holder_pulls_and_views_the_version_with_no_name_anywhere(live, regctl_as, tmp_path,
                                                                                 request):
    from playwright.sync_api import sync_playwright

    alice, reader = regctl_as("alice"), regctl_as(None)
    project = make_project(tmp_path / "submission", name="alice/secret-gan", release={"stage": "review"},
                           paper={"title": "Anonymous submission", "venue": "neurips-2026",
                                  "authors": ["Alice Liddell"]})
    assert alice("push", project).code == 0
    assert reader("show", "alice/secret-gan").code == 7  # review: not visible to anyone without the link

    created = alice("review-link", "create", "alice/secret-gan@1.0.0", "--expires", "30d", "--json")
    assert created.code == 0, created.stderr
    url = created.json()["url"]

    pulled = reader("review-link", "pull", url, "-o", tmp_path / "pulled", "--json")
    assert pulled.code == 0, pulled.stderr
    assert pulled.json()["name"].startswith("anonymous/submission-") and "alice" not in pulled.stdout.lower()
    for path in ("weights/model.safetensors", "eval.py", "configs/train.yaml"):
        assert (tmp_path / "pulled" / path).read_bytes() == (project / path).read_bytes()

    out = SCREENSHOTS / "review-link" / request.node.callspec.id
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        assert page.inner_text("h1") == "ResNet on synthetic data"
        dom = page.content().lower()
        assert "alice" not in dom and "liddell" not in dom and "anonymous/submission-" in dom
        page.screenshot(path=out / "review.png", full_page=True)
        browser.close()

    uses = alice("review-link", "list", "alice/secret-gan", "--json").json()[0]["uses"]
    assert {"version document", "page"} <= {use["what"] for use in uses}
    assert alice("review-link", "revoke", "alice/secret-gan", str(created.json()["id"])).code == 0
    assert reader("review-link", "pull", url, "-o", tmp_path / "again").code == 7


NAMES = ("alice", "liddell", "secret-eval")


def _named(text: str) -> list[str]:
    return [name for name in NAMES if name in text.lower()]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_link_holder_verifies_every_claim_with_no_account_and_sees_no_name(live, regctl_as, tmp_path):
    alice, holder = regctl_as("alice"), regctl_as(None)
    project = make_eval_project(tmp_path / "submission", "alice/secret-eval",
                                METRIC_SCRIPT.format(body="metrics = {'top1': 0.953, 'loss': 0.21}"),
                                [{"metric": "top1", "value": 0.95, "dataset": "cifar10/test",
                                  "tolerance": {"abs": 0.01}},
                                 {"metric": "loss", "value": 0.2, "dataset": "cifar10/test",
                                  "tolerance": {"max": 0.25}}])
    document = yaml.safe_load((project / "regctl.yaml").read_text())
    document.update(release={"stage": "review"}, paper={"title": "Anonymous submission", "venue": "neurips-2026",
                                                        "authors": ["Alice Liddell"], "url": "https://example.org/alice"})
    write_author_file(project, document)
    assert alice("push", project).code == 0
    url = alice("review-link", "create", "alice/secret-eval@1.0.0", "--json").json()["url"]

    refused = holder("verify", url, "--yes", "--submit", "--workdir", tmp_path / "refused")
    assert refused.code == 6 and "no signing key" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "refused").exists()  # refused before anything was downloaded or run

    work = tmp_path / "work"
    verified = holder("verify", url, "--yes", "--workdir", work)
    assert verified.code == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("HELD") == 2 and "FAILED" not in verified.stdout
    assert "anonymous/submission-" in verified.stdout and "outcome: reproduced" in verified.stdout
    assert "anonymous review: authors not named" in verified.stderr and "bubblewrap" in verified.stderr
    assert _named(verified.stdout + verified.stderr) == []
    written = [path for path in work.rglob("*") if path.is_file()]
    assert any(path.name == "metrics.json" for path in written)
    assert [str(path) for path in written if _named(path.relative_to(work).as_posix() + path.read_text("latin-1"))] \
        == []
    assert (work / "files" / "eval.py").read_bytes() == (project / "eval.py").read_bytes()

    pulled = holder("pull", url, "-o", tmp_path / "pulled", "--json")  # the plain pull takes the link too
    assert pulled.code == 0, pulled.stderr
    assert pulled.json()["name"].startswith("anonymous/submission-") and _named(pulled.stdout) == []
    badge = requests.get(f"{url}/badge.svg", timeout=30)
    assert badge.status_code == 200 and badge.headers["Cache-Control"] == "private, no-store"
    assert _named(badge.text) == [] and "reproducibility" in badge.text

    listed = alice("review-link", "list", "alice/secret-eval")
    assert listed.code == 0 and "version document" in listed.stdout and "badge (svg)" in listed.stdout
    link = alice("review-link", "list", "alice/secret-eval", "--json").json()[0]
    files = [use["what"] for use in link["uses"] if use["what"].startswith("file ")]
    assert len(files) == 3  # verify fetched each file once; the pull after it found them in regctl's cache
    assert alice("review-link", "revoke", "alice/secret-eval", str(link["id"])).code == 0
    revoked = holder("verify", url, "--yes", "--workdir", tmp_path / "after")
    assert revoked.code == 7 and "revoked" in revoked.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_staged_release_from_regctl_yaml_and_gated_access_on_the_command_line(live, regctl_as, tmp_path):
    alice, bob = regctl_as("alice"), regctl_as("bob")
    project = make_project(tmp_path / "model", name="alice/lm", release={
        "stage": "gated", "plan": [{"stage": "gated", "on": "2026-01-01"}, {"stage": "public", "on": "2999-01-01"}]})
    pushed = alice("push", project, "--json")
    assert pushed.code == 0, pushed.stderr
    assert pushed.json()["visibility"] == "gated"
    shown = bob("release", "show", "alice/lm", "--json").json()
    assert shown["stage"] == "gated" and [s["stage"] for s in shown["plan"]] == ["gated", "public"]

    assert bob("access", "request", "alice/lm", "--purpose", "bias audit").code == 0
    listed = alice("access", "list", "alice/lm", "--json").json()
    assert [(r["requester"], r["purpose"], r["state"]) for r in listed] == [("bob", "bias audit", "pending")]
    assert alice("access", "approve", "alice/lm", str(listed[0]["id"]), "--conditions", "research only").code == 0
    assert bob("access", "list", "alice/lm", "--json").json()[0]["conditions"] == "research only"

    assert alice("release", "pause", "alice/lm", "--reason", "holding for the audit").code == 0
    assert "holding for the audit" in bob("release", "show", "alice/lm").stdout
    assert alice("release", "resume", "alice/lm").code == 0
    assert alice("release", "advance", "alice/lm").code == 0
    assert bob("release", "show", "alice/lm", "--json").json()["stage"] == "public"
