"""The pages in a real browser (Debian's chromium, driven by Playwright), against a registry process."""

import csv
import os
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright

from tests.factories import make_project
from tests.live import BIN

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCREENSHOTS = Path(os.environ.get("REGISTRY_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output"))
CHROMIUM = os.environ.get("REGISTRY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def seeded(live, regctl_as, tmp_path):
    """Two public entries of venue demo-2026 (one reproduced, one failed) and one private one."""
    author, reviewer, chair = regctl_as("demo"), regctl_as("rev"), regctl_as("chair")
    live.admin("venues", "create", "demo-2026", "--title", "Demo Conference 2026", "--chair", "chair")
    assert chair("venue", "add", "demo-2026", "rev").code == 0  # a reviewer's verifications earn badges
    for example in ("digits-logreg", "iris-overclaimed"):
        assert author("push", EXAMPLES / example).code == 0
    secret = make_project(tmp_path / "secret", name="demo/secret-model", release={"visibility": "private"},
                          paper={"title": "Secret", "venue": "demo-2026"})
    assert author("push", secret).code == 0
    assert reviewer("keys", "create").code == 0
    assert reviewer("verify", "demo/digits-logreg", "--submit", "--yes").code == 0
    assert reviewer("verify", "demo/iris-overclaimed", "--submit", "--yes").code == 1
    return author


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_a_reader_finds_checks_and_exports_entries_in_a_browser(live, seeded, browser, tmp_path, request):
    out = SCREENSHOTS / "browser" / request.node.callspec.id
    out.mkdir(parents=True, exist_ok=True)
    host = urlparse(live.url).netloc
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    requested = []
    page.on("request", lambda r: requested.append(r.url))

    page.goto(live.url + "/")
    assert "Recent entries" in page.inner_text("main")
    assert "demo/digits-logreg" in page.inner_text("main") and "secret-model" not in page.content()
    page.screenshot(path=out / "home.png", full_page=True)

    page.fill("form.search input[name=q]", "digits")
    page.click("form.search button")
    page.wait_for_load_state()
    assert "1 result" in page.inner_text("main")
    page.screenshot(path=out / "search.png", full_page=True)

    page.click("table.entries >> text=1.0.0")
    page.wait_for_load_state()
    assert page.url == f"{live.url}/demo/digits-logreg/1.0.0"
    assert page.inner_text("h1") == "Softmax regression on the scikit-learn digits"
    rows = page.locator("table.claims tbody tr")
    assert rows.count() == 2
    assert "held" in rows.nth(0).inner_text() and "0.9648" in rows.nth(0).inner_text()
    assert "held: |measured − claimed| ≤ 0.005 (abs 0.005)" in rows.nth(0).inner_text()  # the rule, as text
    assert "rev" in page.inner_text("table.claims thead")
    images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert images and all(complete and width > 0 for complete, width in images)
    page.screenshot(path=out / "version.png", full_page=True)

    failed = context.new_page()
    failed.on("request", lambda r: requested.append(r.url))
    failed.goto(live.url + "/demo/iris-overclaimed/1.0.0")
    assert "failed" in failed.inner_text("table.claims") and "reproduction failed" in failed.inner_text("main")
    assert "mean of 3 runs: " in failed.inner_text("table.claims")  # each run's value beside the mean
    failed.screenshot(path=out / "version-failed.png", full_page=True)

    snippet = subprocess.run([BIN / "regctl", "badge", "demo/digits-logreg"], capture_output=True, text=True,
                             env=seeded.env, check=True).stdout.splitlines()[1]
    conference = context.new_page()
    conference.set_content(f"<p>Artifact of our paper: {snippet}</p>")
    conference.wait_for_function("document.images[0].complete && document.images[0].naturalWidth > 0")
    conference.click("a")
    conference.wait_for_load_state()
    assert conference.url == f"{live.url}/demo/digits-logreg/1.0.0"

    page.goto(live.url + "/venues/demo-2026")
    assert "Demo Conference 2026" in page.inner_text("h1") and "secret-model" not in page.content()
    page.screenshot(path=out / "venue.png", full_page=True)
    with page.expect_download() as download:
        page.click("text=CSV")
    saved = tmp_path / "venue.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(saved.open()))
    assert {(r["name"], r["reproduced_state"]) for r in rows} == {("demo/digits-logreg", "reproduced"),
                                                                  ("demo/iris-overclaimed", "failed")}

    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    mobile = phone.new_page()
    mobile.on("request", lambda r: requested.append(r.url))
    mobile.goto(live.url + "/demo/digits-logreg/1.0.0")
    assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    mobile.screenshot(path=out / "version-phone.png", full_page=True)
    mobile.goto(live.url + "/")
    mobile.screenshot(path=out / "home-phone.png", full_page=True)
    phone.close()
    context.close()

    foreign = [url for url in requested if urlparse(url).scheme in ("http", "https") and urlparse(url).netloc != host]
    assert foreign == [] and requested

