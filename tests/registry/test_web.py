"""Pages, badges and venue exports through the app, on both databases."""

import csv
import html
import io
import json
import re
import secrets
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta

import pytest

from regctl.output import badge_snippets
from reproreg.config import Settings
from reproreg.unit_of_work import unit_of_work
from reproreg_schemas.verdicts import judge, outcome
from reproreg_schemas.vocabulary import BadgeKind
from tests.factories import author_file, full_checklist
from tests.registry.helpers import FILES, publish, register_key

SVG = "{http://www.w3.org/2000/svg}"
PUBLIC_URL = "https://registry.example.org"
ABSOLUTE_URL = re.compile(r"""\b[a-z][a-z0-9+.-]*://[^\s"'<>),\]]*""")


@pytest.fixture
def entries(app, http, make_user):
    from reproreg.services.venues import create_venue

    _, alice = make_user("alice")
    _, bob = make_user("bob")
    paper = {"title": "P", "venue": "neurips-2026", "authors": ["A. Author"]}
    assert publish(http, alice, FILES, name="alice/public-model", paper=paper).status_code == 201
    assert publish(http, alice, FILES, name="alice/secret-model", paper=paper,
                   visibility="private").status_code == 201
    with unit_of_work(app.extensions["registry"].sessions) as session:
        create_venue(session, "neurips-2026", "NeurIPS 2026", "bob")
    return alice, bob


def svg_text(data: bytes) -> str:
    root = ElementTree.fromstring(data)
    assert root.tag == f"{SVG}svg"
    return " ".join(t.text for t in root.iter(f"{SVG}text"))


def test_badges_are_svg_with_their_state_and_shields_json(http, entries):
    response = http.get("/badges/alice/public-model.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "available" in svg_text(response.data)
    for kind, text in (("reproduced", "not verified"), ("available", "yes"), ("checklist", "complete"),
                       ("functional", "not evaluated")):
        assert text in svg_text(http.get(f"/badges/alice/public-model/1.0.0.svg?kind={kind}").data)
    shield = http.get("/badges/alice/public-model/1.0.0.json?kind=reproduced").json
    assert shield == {"schemaVersion": 1, "label": "reproduced", "message": "not verified", "color": "lightgrey",
                      "cacheSeconds": 300}


def test_badges_are_cacheable_and_answer_304(http, entries):
    first = http.get("/badges/alice/public-model.svg")
    assert first.headers["ETag"] and "max-age" in first.headers["Cache-Control"]
    again = http.get("/badges/alice/public-model.svg", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = http.get("/badges/alice/public-model.json", headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200


@pytest.mark.parametrize("path", ["/badges/alice/secret-model.svg", "/badges/alice/nothing.svg",
                                  "/badges/nobody/nothing/9.9.9.svg", "/badges/alice/public-model/7.0.0.svg"])
def test_unknown_and_private_badges_are_grey_unknown(http, entries, path):
    response = http.get(path)
    assert response.status_code == 200 and "unknown" in svg_text(response.data)
    assert http.get(path.replace(".svg", ".json")).json["message"] == "unknown"


def test_private_entries_appear_nowhere_for_anyone_but_their_owner(http, entries):
    alice, bob = entries
    for who in ({}, bob):
        for path in ("/", "/?q=model", "/?venue=neurips-2026", "/?metric=top1", "/venues/neurips-2026",
                     "/venues/neurips-2026.csv", "/venues/neurips-2026.json", "/api/v1/venues/neurips-2026"):
            body = http.get(path, headers=who).get_data(as_text=True)
            assert "public-model" in body, path
            assert "secret-model" not in body, path
        for path in ("/alice/secret-model", "/alice/secret-model/1.0.0"):
            response = http.get(path, headers=who)
            assert response.status_code == 404 and "secret" not in response.get_data(as_text=True)
    owner_view = http.get("/venues/neurips-2026.csv", headers=alice).get_data(as_text=True)
    assert "secret-model" in owner_view
    assert "unknown" not in svg_text(http.get("/badges/alice/secret-model.svg", headers=alice).data)
    assert http.get("/badges/alice/secret-model.svg", headers=alice).headers["Cache-Control"] == "private, no-store"


def test_the_venue_csv_lists_every_entry_with_its_states(http, entries, make_user):
    _, carol = make_user("carol")
    paper = {"title": "Q", "venue": "neurips-2026"}
    assert publish(http, carol, FILES, name="carol/other", paper=paper).status_code == 201
    assert publish(http, carol, FILES, name="carol/elsewhere", paper={"title": "R", "venue": "icml-2026"}
                   ).status_code == 201
    rows = list(csv.DictReader(io.StringIO(http.get("/venues/neurips-2026.csv").get_data(as_text=True))))
    assert [(r["name"], r["version"]) for r in rows] == [("alice/public-model", "1.0.0"), ("carol/other", "1.0.0")]
    assert rows[0]["available"] == "True" and rows[0]["reproduced_state"] == "not verified"
    assert rows[0]["url"].endswith("/alice/public-model/1.0.0")
    exported = json.loads(http.get("/venues/neurips-2026.json").data)
    assert [e["name"] for e in exported["entries"]] == ["alice/public-model", "carol/other"]
    page = http.get("/venues/neurips-2026?state=reproduced").get_data(as_text=True)
    assert "public-model" not in page and "No entry in this state" in page


def test_chairs_add_reviewers_who_may_request_reference_runs(http, entries, make_user):
    alice, bob = entries
    _, carol = make_user("carol")
    assert http.post("/api/v1/venues/neurips-2026/members", json={"user": "carol"}, headers=carol).status_code == 403
    added = http.post("/api/v1/venues/neurips-2026/members", json={"user": "carol"}, headers=bob)
    assert added.status_code == 201 and added.json == {"user": "carol", "role": "reviewer"}
    job = http.post("/api/v1/artifacts/alice/public-model/versions/1.0.0/jobs", headers=carol)
    assert job.status_code == 201
    _, dave = make_user("dave")
    assert http.post("/api/v1/artifacts/alice/public-model/versions/1.0.0/jobs", headers=dave).status_code == 403


def test_the_version_page_shows_the_record(http, entries):
    page = http.get("/alice/public-model/1.0.0").get_data(as_text=True)
    for text in ("A. Author", "apache-2.0", "sha256:", "regctl pull alice/public-model@1.0.0", "top1",
                 "cifar10/test", "± 0.003", "MA1", "Training", "lr", "No known risks", "weights/model.safetensors"):
        assert text in page, text
    assert "<script" not in page and "http://cdn" not in page
    assert "lr: 0.1\nepochs: 3" in page  # the training config verbatim, next to its rendered form


@pytest.mark.parametrize("path", ["/badges/alice/public-model.json?kind=bogus",
                                  "/badges/alice/public-model/1.0.0.json?kind=Reproduced",
                                  "/badges/alice/nothing.json?kind=bogus"])
def test_an_unknown_badge_kind_is_a_400_naming_the_kinds(http, entries, path):
    response = http.get(path)
    assert response.status_code == 400 and response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == "BAD_REQUEST"
    assert "available, functional, reproduced, checklist" in error["message"]
    image = http.get(path.replace(".json", ".svg"))
    assert image.status_code == 400 and "kind must be one of combined, available" in image.get_data(as_text=True)
    assert http.get(path.split("?")[0] + "?kind=").status_code == 200  # empty: the combined badge


SPREAD = [{"metric": "params", "value": 22713728, "dataset": "model", "tolerance": {"abs": 0}},
          {"metric": "acc", "value": 0.92, "dataset": "d/test", "tolerance": {"abs": 0.005}, "std": 0.01,
           "n_runs": 3}]


def record_verification(app, name: str, verifier: str, role: str, runs: list[dict], age_minutes: int) -> None:
    """A verification of ``name`` 1.0.0 as the registry records it (the signature checks are tested elsewhere)."""
    from reproreg.models import Artifact, Namespace, SigningKey, User, Verification, Version

    namespace, artifact = name.split("/")
    verdicts = judge(SPREAD, runs)
    report = {"name": name, "version": "1.0.0", "claims": verdicts, "environment": {"python": "3.12"},
              "runs": [{"seed": seed, "exit_code": 0, "timed_out": False, "wall_time_s": 1.0, "stdout_tail": "",
                        "stderr_tail": "", "metrics": metrics} for seed, metrics in enumerate(runs)]}
    with unit_of_work(app.extensions["registry"].sessions) as session:
        user = session.query(User).filter(User.name == verifier).one()
        version = (session.query(Version).join(Artifact).join(Namespace)
                   .filter(Namespace.name == namespace, Artifact.name == artifact, Version.version == "1.0.0").one())
        key = SigningKey(id=secrets.token_hex(8), user_id=user.id, public_key=secrets.token_hex(16))
        session.add(key)
        session.add(Verification(
            version_id=version.id, verifier_id=user.id, role=role, key_id=key.id, signature=secrets.token_hex(32),
            nonce=secrets.token_hex(16), digest=version.digest, outcome=outcome(verdicts), sandbox="bubblewrap",
            hardware=f"CPU: {verifier}'s machine", accelerator_used="cpu", report=report,
            created_at=datetime.now(UTC) - timedelta(minutes=age_minutes)))


def test_the_version_page_shows_numbers_exactly_with_each_verdicts_rule_in_its_text(app, http, entries,
                                                                                   make_user):
    alice, _ = entries
    make_user("rev")
    assert publish(http, alice, FILES, name="alice/counted", claims=SPREAD).status_code == 201
    runs = [{"params": 22713727, "acc": 0.91}, {"params": 22713727, "acc": 0.92}, {"params": 22713727, "acc": 0.93}]
    record_verification(app, "alice/counted", "rev", "reviewer", runs, age_minutes=5)
    page = html.unescape(http.get("/alice/counted/1.0.0").get_data(as_text=True))
    claims = page[page.index('<table class="claims">'):page.index("</table>", page.index('<table class="claims">'))]
    assert "22713728" in claims and "22713727" in claims and "e+07" not in page
    visible = re.sub(r'title="[^"]*"', "", claims)  # the rule is in the text, not only in a tooltip
    assert "failed: |mean of 3 runs − claimed| ≤ 0 (abs 0)" in visible
    assert "held: |mean of 3 runs − claimed| ≤ 0.0163299316186 (2·std·√(2/n), std 0.01, n 3); " \
           "mean of 3 runs: 0.91, 0.92, 0.93" in visible
    assert "0.92" in claims and "0.9199999999999999" not in page


def test_the_version_page_lists_trusted_verifications_then_community_reports_then_the_authors(app, http, entries,
                                                                                               make_user):
    alice, _ = entries
    for name in ("rev", "carol", "worker"):
        make_user(name)
    assert publish(http, alice, FILES, name="alice/counted", claims=SPREAD).status_code == 201
    runs = [{"params": 22713728, "acc": 0.92}] * 3
    # newest first in each group, whatever the order they came in
    for verifier, role, age in (("alice", "author", 50), ("carol", "community", 1), ("rev", "reviewer", 40),
                                ("worker", "reference-worker", 30)):
        record_verification(app, "alice/counted", verifier, role, runs, age_minutes=age)
    page = http.get("/alice/counted/1.0.0").get_data(as_text=True)
    order = [page.index(f"by <strong>{name}</strong>") for name in ("worker", "rev", "carol", "alice")]
    assert order == sorted(order)
    assert page.index("by <strong>carol</strong>") > page.index('id="community"')
    assert page.index("by <strong>alice</strong>") > page.index('id="authors-runs"')
    claims_head = page[page.index('<table class="claims">'):page.index("</thead>")]
    assert "worker" in claims_head and "rev" in claims_head and "carol" not in claims_head  # badges: trusted only


def test_a_drafts_page_says_how_far_it_is_and_that_it_has_no_claims_to_verify(http, entries):
    alice, _ = entries
    partial = dict(list(full_checklist().items())[:14])
    assert publish(http, alice, FILES, name="alice/base-model", claims=[], evaluation=None,
                   checklist=partial).status_code == 201
    page = http.get("/alice/base-model/1.0.0").get_data(as_text=True)
    states = page[page.index('<ul class="states"'):page.index("</ul>", page.index('<ul class="states"'))]
    assert "checklist 14/21" in states and "no claims to verify" in states
    assert "No claims to verify." in page
    assert page.count(">not answered<") == 7
    listing = http.get("/?q=base-model").get_data(as_text=True)
    assert "checklist 14/21" in listing and "no claims to verify" in listing
    complete = http.get("/alice/public-model/1.0.0").get_data(as_text=True)
    assert "checklist 21/21" not in complete and "no claims to verify" not in complete


def test_a_json_training_config_is_rendered_as_json_and_yaml_as_yaml(http, entries):
    alice, _ = entries
    config = b'{"lr":0.1,"amp":true,"warmup":null,"layers":[64,64],"optimizer":{"name":"adam","eps":1e-08}}'
    files = {**{k: v for k, v in FILES.items() if k != "configs/train.yaml"}, "configs/train.json": config}
    training = {**author_file()["training"], "config": "configs/train.json"}
    assert publish(http, alice, files, name="alice/json-config", training=training).status_code == 201
    page = html.unescape(http.get("/alice/json-config/1.0.0").get_data(as_text=True))
    assert json.dumps(json.loads(config), indent=2) in page  # pretty-printed
    assert config.decode() in page  # and exactly as published
    rows = page[page.index('<table class="config json">'):]
    assert "<code>amp</code></td><td><code>true</code>" in rows and "True" not in rows.split("</table>")[0]
    assert "<code>warmup</code></td><td><code>null</code>" in rows
    assert '<code>optimizer.name</code></td><td><code>"adam"</code>' in rows

    yaml_page = html.unescape(http.get("/alice/public-model/1.0.0").get_data(as_text=True))
    assert '<table class="config yaml">' in yaml_page and "lr: 0.1\nepochs: 3" in yaml_page
    assert "<code>lr</code></td><td><code>0.1</code>" in yaml_page


def test_search_filters_by_name_metric_venue_and_state(http, entries):
    assert "public-model" in http.get("/?q=PUBLIC").get_data(as_text=True)
    assert "0 results" in http.get("/?metric=bleu").get_data(as_text=True)
    assert "0 results" in http.get("/?venue=icml-2026").get_data(as_text=True)
    assert "0 results" in http.get("/?state=reproduced").get_data(as_text=True)
    assert "1 result" in http.get("/?state=available").get_data(as_text=True)
    assert "state must be one of" in http.get("/?state=nonsense").get_data(as_text=True)


def test_api_docs_page_renders_the_openapi_description(http):
    page = http.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/artifacts/{namespace}/{name}/versions/{reference}" in page and "openapi.json" in page
    spec = http.get("/api/v1/openapi.json").json
    for path in ("/api/v1/venues/{slug}/members", "/api/v1/jobs/{job_id}/lease",
                 "/api/v1/artifacts/{namespace}/{name}/versions/{reference}/badges"):
        assert path in spec["paths"]


def test_reserved_names_cannot_be_namespaces(app):
    from reproreg.errors import RegistryError
    from reproreg.services.auth import create_user

    with unit_of_work(app.extensions["registry"].sessions) as session, pytest.raises(RegistryError):
        create_user(session, "badges")


class TestBehindAPublicURL:
    """REGISTRY_PUBLIC_URL names the registry as the world reaches it (e.g. behind a proxy): the pages, exports,
    API answers and badge snippets hand out that address, never the one a request happened to come to."""

    @pytest.fixture
    def settings(self, settings):
        return Settings.from_env({"REGISTRY_DATABASE_URL": settings.database_url,
                                  "REGISTRY_BLOB_DIR": str(settings.blob_dir), "REGISTRY_PUBLIC_URL": PUBLIC_URL})

    def test_every_absolute_url_starts_with_the_public_url(self, http, entries):
        alice, _ = entries
        answers = {path: http.get(path, base_url="http://10.0.0.7:8080").get_data(as_text=True)
                   for path in ("/", "/?q=model", "/alice/public-model", "/alice/public-model/1.0.0",
                                "/venues/neurips-2026", "/venues/neurips-2026.csv", "/venues/neurips-2026.json",
                                "/api/v1/docs", "/api/v1/artifacts/alice/public-model",
                                "/api/v1/artifacts/alice/public-model/versions/1.0.0",
                                "/api/v1/artifacts/alice/public-model/versions/latest/badges")}
        published = publish(http, alice, FILES, name="alice/public-model", version="1.1.0")
        yanked = http.post("/api/v1/artifacts/alice/public-model/versions/1.1.0/yank", json={"reason": "typo"},
                           headers=alice)
        version = http.get("/api/v1/artifacts/alice/public-model/versions/1.0.0").json
        answers.update({"PUT version": published.get_data(as_text=True), "yank": yanked.get_data(as_text=True)})
        answers.update({f"regctl badge --kind {kind}": json.dumps(badge_snippets(version, kind))
                        for kind in BadgeKind})

        authored = {author_file()["paper"]["url"], author_file()["training"]["code"]["repo"]}  # the manifests' own
        found = {where: [url for url in ABSOLUTE_URL.findall(text) if url not in authored]
                 for where, text in answers.items()}
        elsewhere = {where: [url for url in urls if url != PUBLIC_URL and not url.startswith(PUBLIC_URL + "/")]
                     for where, urls in found.items()}
        assert not any(elsewhere.values()), elsewhere

        page = f"{PUBLIC_URL}/alice/public-model/1.0.0"
        assert f"REGCTL_URL={PUBLIC_URL} regctl pull alice/public-model@1.0.0" in answers["/alice/public-model/1.0.0"]
        assert f"{PUBLIC_URL}/badges/alice/public-model/1.0.0.svg" in found["/alice/public-model/1.0.0"]
        assert page in found["/venues/neurips-2026.csv"] and page in found["/venues/neurips-2026.json"]
        assert json.loads(answers["/venues/neurips-2026.json"])["url"] == f"{PUBLIC_URL}/venues/neurips-2026"
        assert f"{PUBLIC_URL}/api/v1" in found["/api/v1/docs"]
        assert version["url"] == page and json.loads(answers["yank"])["url"] == f"{PUBLIC_URL}/alice/public-model/1.1.0"
        assert badge_snippets(version)["markdown"] == (f"[![reproducibility of alice/public-model 1.0.0]"
                                                       f"({PUBLIC_URL}/badges/alice/public-model/1.0.0.svg)]({page})")
        assert badge_snippets(version, BadgeKind.REPRODUCED)["shields_endpoint"] == (
            f"{PUBLIC_URL}/badges/alice/public-model/1.0.0.json?kind=reproduced")


H100_ENVIRONMENT = {"os": "Linux", "python": "3.12", "cpu": "AMD EPYC 9654", "cpu_count": 8,
                    "accelerator_requested": "gpu", "accelerator_used": "gpu", "cuda": "12.4",
                    "gpus": [{"name": "NVIDIA H100 80GB HBM3", "driver": "550.54", "memory": "81559 MiB"}]}
A100_ENVIRONMENT = {**H100_ENVIRONMENT,
                    "gpus": [{"name": "NVIDIA A100-SXM4-80GB", "driver": "535.1", "memory": "81920 MiB"}]}
ON_A100 = [SPREAD[0], {**SPREAD[1], "hardware": "A100-80GB"}]
GPU_EVALUATION = {"command": "python eval.py {files} {metrics} {seed}", "accelerator": "gpu",
                  "gpu": {"min_memory_gb": 40, "model": "A100"}}
H100_NOTE = "claimed on A100-80GB, verified on H100 80GB HBM3"


def submit_signed(http, headers, name: str, verifier: str, runs: list[dict], environment: dict):
    """Sign a report the way regctl does and submit it through the API."""
    import base64

    from reproreg_schemas.verification import REPORT_VERSION, report_bytes

    private, key_id = register_key(http, headers)
    version = http.get(f"/api/v1/artifacts/{name}/versions/1.0.0").json
    verdicts = judge(version["manifest"]["claims"], runs)
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    report = {"report_version": REPORT_VERSION, "name": name, "version": "1.0.0", "digest": version["digest"],
              "verifier": verifier, "nonce": secrets.token_hex(16), "signed_at": now, "started_at": now,
              "finished_at": now, "command": "python eval.py", "sandbox": "bubblewrap", "environment": environment,
              "runs": [{"seed": seed, "exit_code": 0, "timed_out": False, "wall_time_s": 1.0, "stdout_tail": "",
                        "stderr_tail": "", "metrics": metrics, "error": None, "limits": {}}
                       for seed, metrics in enumerate(runs)],
              "claims": verdicts, "outcome": outcome(verdicts), "failure": None, "job": None}
    return http.post(f"/api/v1/artifacts/{name}/versions/1.0.0/verifications", headers=headers, json={
        "report": report, "key_id": key_id,
        "signature": base64.b64encode(private.sign(report_bytes(report))).decode()})


def test_hardware_goes_from_push_through_a_signed_report_to_the_page(http, entries):
    alice, bob = entries  # bob chairs the venue: his verification is trusted
    paper = {"title": "P", "venue": "neurips-2026"}
    assert publish(http, alice, FILES, name="alice/gpu-model", paper=paper, claims=ON_A100,
                   evaluation=GPU_EVALUATION).status_code == 201
    runs = [{"params": 22713728, "acc": 0.92}] * 3
    recorded = submit_signed(http, bob, "alice/gpu-model", "bob", runs, H100_ENVIRONMENT)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["trusted"] and recorded.json["outcome"] == "reproduced"
    (served,) = http.get("/api/v1/artifacts/alice/gpu-model/versions/1.0.0/verifications").json
    assert served["environment"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    version = http.get("/api/v1/artifacts/alice/gpu-model/versions/1.0.0").json
    assert version["claimed_hardware"][1]["hardware"] == "A100-80GB"
    states = http.get("/api/v1/artifacts/alice/gpu-model/versions/1.0.0/badges").json
    assert states["reproduced_state"] == "reproduced"  # other hardware: it still counts

    page = html.unescape(http.get("/alice/gpu-model/1.0.0").get_data(as_text=True))
    claims = page[page.index('<table class="claims">'):page.index("</table>", page.index('<table class="claims">'))]
    assert f"{H100_NOTE} (it counts all the same)" in claims
    assert claims.count("claimed on") == 1  # only the claim that names its hardware
    assert "on A100-80GB" in claims
    details = page[page.index('<details class="verification"'):]
    assert f'<dd class="hardware-note">{H100_NOTE} (it counts all the same)</dd>' in details
    assert "needs a GPU: A100 with at least 40 GB" in page


def test_a_verification_on_the_claimed_hardware_says_nothing_more(http, entries):
    alice, bob = entries
    paper = {"title": "P", "venue": "neurips-2026"}
    assert publish(http, alice, FILES, name="alice/gpu-model", paper=paper, claims=ON_A100,
                   evaluation=GPU_EVALUATION).status_code == 201
    runs = [{"params": 22713728, "acc": 0.92}] * 3
    assert submit_signed(http, bob, "alice/gpu-model", "bob", runs, A100_ENVIRONMENT).status_code == 201
    page = http.get("/alice/gpu-model/1.0.0").get_data(as_text=True)
    assert "A100-SXM4-80GB" in page and "claimed on" not in page and "hardware-note" not in page


def test_hardware_notes_cover_every_judged_claim_that_names_other_hardware():
    from reproreg.web.presenters import hardware_notes, with_verdicts

    claims = [{"metric": "acc", "dataset": "d", "hardware": "A100-80GB"},
              {"metric": "f1", "dataset": "d", "hardware": "A100-80GB"},
              {"metric": "loss", "dataset": "d", "hardware": "TPU v4"},  # not judged by this verification
              {"metric": "params", "dataset": "d"}]
    verification = {"claims": [{"metric": m, "dataset": "d", "claimed": 1, "measured": 1, "verdict": "held",
                                "rule": "r"} for m in ("acc", "f1", "params")],
                    "report": {"environment": H100_ENVIRONMENT, "runs": []}}
    assert hardware_notes(claims, verification) == [H100_NOTE]
    shown = with_verdicts(verification, claims)
    assert shown["hardware_notes"] == [H100_NOTE]
    assert [v["hardware_note"] for v in shown["verdicts"]] == [H100_NOTE, H100_NOTE, None]
    assert "hardware_notes" not in with_verdicts(verification)  # without the claims it cannot say
