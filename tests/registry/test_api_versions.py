"""Publishing, immutability, visibility, tokens and the error envelope."""

import json

import pytest

from reproreg.services.auth import TOKEN_PREFIX
from reproreg.unit_of_work import unit_of_work
from tests.factories import full_checklist
from tests.registry.helpers import FILES, manifest_for, publish, upload


def test_publish_creates_an_immutable_version_with_a_canonical_digest(http, make_user):
    _, alice = make_user("alice")
    created = publish(http, alice, FILES)
    assert created.status_code == 201, created.json
    body = created.json
    assert body["digest"].startswith("sha256:") and body["created"] is True
    assert body["training_config"] == {"lr": 0.1, "epochs": 3}
    assert body["url"].endswith("/alice/resnet/1.0.0")
    assert [f["path"] for f in body["manifest"]["files"]] == sorted(FILES)

    again = publish(http, alice, FILES)
    assert again.status_code == 200 and again.json["digest"] == body["digest"] and again.json["created"] is False

    changed = publish(http, alice, {**FILES, "eval.py": b"print('other')\n"})
    assert changed.status_code == 409
    error = changed.json["error"]
    assert error["code"] == "VERSION_EXISTS" and error["details"]["existing_digest"] == body["digest"]
    assert http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0").json["digest"] == body["digest"]


def test_versions_resolve_by_number_digest_and_latest(http, make_user):
    _, alice = make_user("alice")
    first = publish(http, alice, FILES, version="1.0.0").json
    publish(http, alice, FILES, version="1.10.0")
    publish(http, alice, FILES, version="2.0.0-rc.1")
    assert http.get("/api/v1/artifacts/alice/resnet/versions/latest").json["version"] == "1.10.0"
    assert http.get(f"/api/v1/artifacts/alice/resnet/versions/{first['digest']}").json["version"] == "1.0.0"
    listing = http.get("/api/v1/artifacts/alice/resnet").json
    assert [v["version"] for v in listing["versions"]] == ["2.0.0-rc.1", "1.10.0", "1.0.0"]
    assert listing["latest"] == "1.10.0"


def test_yank_keeps_the_version_resolvable_and_is_audited(app, http, make_user):
    _, alice = make_user("alice")
    publish(http, alice, FILES, version="1.0.0")
    publish(http, alice, FILES, version="1.1.0")
    response = http.post("/api/v1/artifacts/alice/resnet/versions/1.1.0/yank", json={"reason": "leak"}, headers=alice)
    assert response.status_code == 200 and response.json["yanked"] is True
    assert http.get("/api/v1/artifacts/alice/resnet/versions/latest").json["version"] == "1.0.0"
    assert http.get("/api/v1/artifacts/alice/resnet/versions/1.1.0").json["yank_reason"] == "leak"
    from reproreg.models import AuditEvent

    with unit_of_work(app.extensions["registry"].sessions) as session:
        actions = [event.action for event in session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions.count("version.publish") == 2 and "version.yank" in actions


def test_mechanical_checklist_warnings_are_stored_with_the_version(http, make_user):
    _, alice = make_user("alice")
    files = {"weights/notes.txt": b"no weights here", "run.sh": b"echo\n"}
    response = publish(http, alice, files, training={"compute": {"hardware": "1x A100"}})
    assert response.status_code == 201, response.json
    assert sorted(w["item"] for w in response.json["checklist_warnings"]) == ["CO1", "CO3", "CO4"]


def test_an_invalid_manifest_lists_its_problems(http, make_user):
    _, alice = make_user("alice")
    upload(http, alice, FILES["eval.py"])
    manifest = manifest_for({"eval.py": FILES["eval.py"]})
    manifest["claims"][0]["tolerance"] = {}
    manifest["files"][0]["path"] = "../eval.py"
    response = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest}, headers=alice)
    assert response.status_code == 422
    problems = response.json["error"]["details"]["problems"]
    assert "claims[0].tolerance" in problems and "files[0].path" in problems


def test_the_manifest_must_match_the_url(http, make_user):
    _, alice = make_user("alice")
    upload(http, alice, FILES["eval.py"])
    manifest = manifest_for({"eval.py": FILES["eval.py"]}, version="2.0.0")
    response = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest}, headers=alice)
    assert response.status_code == 422 and "version" in response.json["error"]["details"]["problems"]


def test_only_the_owner_pushes_into_a_namespace(http, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    for data in FILES.values():
        upload(http, bob, data)
    response = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0",
                        json={"manifest": manifest_for(FILES)}, headers=bob)
    assert response.status_code == 403 and response.json["error"]["code"] == "FORBIDDEN"
    anonymous = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest_for(FILES)})
    assert anonymous.status_code == 401


def test_a_private_artifact_is_404_to_everyone_but_its_owner(http, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    publish(http, alice, FILES, visibility="private")
    digest = manifest_for(FILES)["files"][0]["sha256"]
    for path in ("/api/v1/artifacts/alice/resnet", "/api/v1/artifacts/alice/resnet/versions/1.0.0",
                 f"/api/v1/artifacts/alice/resnet/blobs/{digest}"):
        for headers in ({}, bob):
            response = http.get(path, headers=headers)
            assert response.status_code == 404, path
            assert response.json["error"]["code"] == "NOT_FOUND"
        unknown = http.get(path.replace("alice/resnet", "alice/nothing"), headers=bob)
        assert unknown.json["error"]["message"].replace("nothing", "resnet") == http.get(
            path, headers=bob).json["error"]["message"]
        owner = http.get(path, headers=alice)
        assert owner.status_code == 200
        assert owner.headers["Cache-Control"] == "private, no-store"


def test_blob_downloads_support_ranges(http, make_user):
    _, alice = make_user("alice")
    publish(http, alice, FILES)
    data = FILES["weights/model.safetensors"]
    digest = manifest_for(FILES)["files"][0]["sha256"]
    url = f"/api/v1/artifacts/alice/resnet/blobs/{digest}"
    whole = http.get(url)
    assert whole.status_code == 200 and whole.data == data and whole.headers["ETag"] == f'"{digest}"'
    part = http.get(url, headers={"Range": "bytes=100-"})
    assert part.status_code == 206 and part.data == data[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
    beyond = http.get(url, headers={"Range": f"bytes={len(data) + 5}-"})
    assert beyond.status_code == 416 and beyond.json["error"]["code"] == "INVALID_RANGE"
    other = manifest_for({"x": b"not in this artifact"})["files"][0]["sha256"]
    assert http.get(f"/api/v1/artifacts/alice/resnet/blobs/{other}").status_code == 404


def test_tokens_are_never_accepted_in_urls(http, make_user):
    _, alice = make_user("alice")
    token = alice["Authorization"].split()[1]
    assert token.startswith(TOKEN_PREFIX)
    response = http.get(f"/api/v1/whoami?access_token={token}")
    assert response.status_code == 400 and response.json["error"]["code"] == "TOKEN_IN_URL"
    assert token not in response.get_data(as_text=True)


@pytest.mark.parametrize("authorization", ["Bearer rrt_" + "x" * 43, "Bearer nonsense", "Basic abc"])
def test_unknown_or_malformed_tokens_are_401(http, make_user, authorization):
    response = http.get("/api/v1/whoami", headers={"Authorization": authorization})
    assert response.status_code == 401 and response.json["error"]["code"] == "UNAUTHORIZED"


def test_a_revoked_token_stops_working(app, http, make_user):
    from reproreg.models import ApiToken
    from reproreg.services.auth import revoke_token

    _, alice = make_user("alice")
    assert http.get("/api/v1/whoami", headers=alice).json == {"name": "alice", "namespaces": ["alice"]}
    with unit_of_work(app.extensions["registry"].sessions) as session:
        revoke_token(session, session.query(ApiToken).one().id)
    assert http.get("/api/v1/whoami", headers=alice).status_code == 401


@pytest.mark.parametrize("method, path, body, status, code", [
    ("GET", "/api/v1/nowhere", None, 404, "NOT_FOUND"),
    ("DELETE", "/api/v1/whoami", None, 405, "METHOD_NOT_ALLOWED"),
    ("POST", "/api/v1/blobs/missing", "{not json", 400, "BAD_REQUEST"),
    ("POST", "/api/v1/blobs/missing", {"digests": ["md5:abc"]}, 422, "VALIDATION_ERROR"),
    ("POST", "/api/v1/blobs/missing", {"digests": "x" * (2 << 20)}, 413, "PAYLOAD_TOO_LARGE"),
    ("PUT", "/api/v1/artifacts/alice/resnet/versions/1.0.0", {"manifest": "no"}, 422, "VALIDATION_ERROR"),
    ("PUT", "/api/v1/artifacts/alice/resnet/versions/1.0.0", {"manifest": {}}, 422, "INVALID_MANIFEST"),
    ("PATCH", "/api/v1/uploads/abc", b"x", 400, "BAD_REQUEST"),
    ("GET", "/api/v1/artifacts/alice/resnet/versions/..%2F..", None, 404, "NOT_FOUND"),
])
def test_bad_input_gets_a_json_error_never_a_500(http, make_user, method, path, body, status, code):
    _, alice = make_user("alice")
    kwargs = {"data": body} if isinstance(body, (str, bytes)) else {"json": body} if body is not None else {}
    if isinstance(body, str):
        kwargs["content_type"] = "application/json"
    response = http.open(path, method=method, headers=alice, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.json["error"]
    assert error["code"] == code and error["message"] and isinstance(error["details"], dict)
    assert "Traceback" not in json.dumps(response.json)


def test_openapi_document_is_served(http):
    spec = http.get("/api/v1/openapi.json").json
    assert "/api/v1/artifacts/{namespace}/{name}/versions/{reference}" in spec["paths"]
    assert "/api/v1/uploads/{upload_id}" in spec["paths"]


def test_a_manifest_may_be_larger_than_other_json_bodies(http, make_user):
    """The manifest of a version of many files passes the JSON body limit (1 MiB in these tests); other bodies don't."""
    _, alice = make_user("alice")
    for data in FILES.values():
        upload(http, alice, data)
    manifest = manifest_for(FILES)
    manifest["description"] = "x" * (2 << 20)  # not a field of the manifest: refused by the schema, not by size
    body = {"manifest": manifest, "release": {"visibility": "public"}}
    published = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json=body, headers=alice)
    assert published.status_code == 422, published.json
    too_large = http.post("/api/v1/blobs/missing", json={"digests": [], "padding": "x" * (2 << 20)}, headers=alice)
    assert too_large.status_code == 413 and too_large.json["error"]["code"] == "PAYLOAD_TOO_LARGE"


def _badge_states(app, name: str, version: str) -> dict:
    """What the badge states service answers for a version (the pages and GET .../badges serialise it)."""
    from reproreg.services.access import find_artifact
    from reproreg.services.badges import badge_states
    from reproreg.services.versions import resolve_version

    registry = app.extensions["registry"]
    with unit_of_work(registry.sessions) as session:
        return badge_states(registry, session, resolve_version(session, find_artifact(session, name), version))


def test_a_draft_is_published_and_says_how_far_its_checklist_is_answered(app, http, make_user):
    _, alice = make_user("alice")
    checklist = {item: answer for item, answer in full_checklist().items() if item[:2] in ("MA", "DS", "CO", "ER")}
    del checklist["ER6"], checklist["DS5"]
    checklist["TC1"] = {"answer": None, "justification": None, "evidence": None}  # as regctl init leaves it
    response = publish(http, alice, FILES, checklist=checklist, claims=[], evaluation=None)
    assert response.status_code == 201, response.json
    assert sorted(response.json["manifest"]["checklist"]) == sorted(set(checklist) - {"TC1"})
    assert response.json["manifest"]["claims"] == [] and response.json["manifest"]["evaluation"] is None

    states = http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0/badges").json
    assert (states["checklist"], states["checklist_state"], states["reproduced_state"]) == (
        False, "incomplete", "not verified")
    assert (states["checklist_answered"], states["checklist_items"], states["claims"]) == (17, 21, 0)
    service = _badge_states(app, "alice/resnet", "1.0.0")
    assert (service["checklist_answered"], service["checklist_items"], service["claims"]) == (17, 21, 0)

    refused = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=alice)
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["code"] == "VALIDATION_ERROR"
    assert "has no claims to verify" in refused.json["error"]["message"]


def test_a_complete_version_counts_every_answer_and_claim(app, http, make_user):
    _, alice = make_user("alice")
    assert publish(http, alice, FILES).status_code == 201
    states = http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0/badges").json
    assert (states["checklist"], states["checklist_state"]) == (True, "complete")
    service = _badge_states(app, "alice/resnet", "1.0.0")
    assert (service["checklist_answered"], service["checklist_items"], service["claims"]) == (21, 21, 2)
    job = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=alice)
    assert job.status_code in (200, 201, 202), job.json


@pytest.mark.parametrize("compute", [{"hardware": "TPU v4-32", "hours": 12.5}, {"hardware": "CPU", "hours": 3},
                                     {"hardware": "8x V100 32GB", "gpu_hours": 190}])
def test_compute_is_published_for_any_hardware(http, make_user, compute):
    _, alice = make_user("alice")
    response = publish(http, alice, FILES, training={"compute": compute})
    assert response.status_code == 201, response.json
    stored = response.json["manifest"]["training"]["compute"]
    assert {key: value for key, value in stored.items() if value is not None} == compute


@pytest.mark.parametrize("config, stored", [
    (b'{"optimizer": {"eps": 1e-08}, "amp": true}', {"optimizer": {"eps": 1e-08}, "amp": True}),
    (b'{"lr": NaN}', None), (b'{"lr": ', None),
])
def test_a_json_training_config_is_read_as_json(http, make_user, config, stored):
    """YAML would read 1e-08 as the string "1e-08"; a JSON file is JSON, and invalid JSON is refused as such."""
    from tests.factories import author_file

    _, alice = make_user("alice")
    files = {**{k: v for k, v in FILES.items() if k != "configs/train.yaml"}, "configs/train.json": config}
    training = {**author_file()["training"], "config": "configs/train.json"}
    response = publish(http, alice, files, training=training)
    if stored is None:
        assert response.status_code == 422 and response.json["error"]["code"] == "INVALID_TRAINING_CONFIG"
        assert "not valid JSON" in response.json["error"]["message"]
    else:
        assert response.status_code == 201, response.json
        assert response.json["training_config"] == stored


HARDWARE_CLAIMS = [{"metric": "top1", "value": 0.953, "dataset": "cifar10/test", "tolerance": {"abs": 0.003},
                    "hardware": "A100-80GB"},
                   {"metric": "loss", "value": 0.2, "dataset": "cifar10/test", "tolerance": {"max": 0.25}}]
GPU_EVALUATION = {"command": "python eval.py --weights {files}/weights --out {metrics}", "accelerator": "gpu",
                  "gpu": {"min_memory_gb": 40, "model": "A100"}}


def test_the_hardware_of_claims_and_the_gpu_needed_are_stored_and_served(app, http, make_user):
    from reproreg.models import Claim, EvaluationSpec

    _, alice = make_user("alice")
    created = publish(http, alice, FILES, claims=HARDWARE_CLAIMS, evaluation=GPU_EVALUATION)
    assert created.status_code == 201, created.json
    for body in (created.json, http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0").json):
        assert body["manifest"]["claims"][0]["hardware"] == "A100-80GB"
        assert "hardware" not in body["manifest"]["claims"][1]
        assert body["manifest"]["evaluation"]["gpu"] == {"min_memory_gb": 40, "model": "A100"}
        assert body["claimed_hardware"] == [{"metric": "top1", "dataset": "cifar10/test", "hardware": "A100-80GB"},
                                            {"metric": "loss", "dataset": "cifar10/test", "hardware": None}]
        assert body["gpu_required"] == {"min_memory_gb": 40, "model": "A100"}
    with unit_of_work(app.extensions["registry"].sessions) as session:
        assert [c.hardware for c in session.query(Claim).order_by(Claim.position)] == ["A100-80GB", None]
        spec = session.query(EvaluationSpec).one()
        assert (spec.gpu_min_memory_gb, spec.gpu_model) == (40, "A100")


def test_a_version_without_hardware_serves_none(http, make_user):
    _, alice = make_user("alice")
    body = publish(http, alice, FILES).json
    assert body["gpu_required"] is None
    assert [claim["hardware"] for claim in body["claimed_hardware"]] == [None, None]


def test_a_gpu_requirement_on_a_cpu_evaluation_is_refused_at_push(http, make_user):
    _, alice = make_user("alice")
    refused = publish(http, alice, FILES, evaluation={**GPU_EVALUATION, "accelerator": "cpu"})
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["code"] == "INVALID_MANIFEST"
    assert any("needs accelerator: gpu" in text for text in refused.json["error"]["details"]["problems"]
               ["evaluation.gpu"])


def test_regctl_show_and_verify_say_a_reference_run_was_on_other_hardware(app, http, make_user, capsys):
    from regctl.cli.reading import claims_lines, version_record
    from regctl.cli.verifying import _print_report, hardware_lines
    from reproreg.models import User
    from tests.registry.test_web import H100_ENVIRONMENT, H100_NOTE, ON_A100, submit_signed

    _, alice = make_user("alice")
    _, worker = make_user("worker")
    with unit_of_work(app.extensions["registry"].sessions) as session:
        session.query(User).filter(User.name == "worker").one().is_worker = True
    assert publish(http, alice, FILES, claims=ON_A100, evaluation=GPU_EVALUATION).status_code == 201
    runs = [{"params": 22713728, "acc": 0.92}] * 3
    recorded = submit_signed(http, worker, "alice/resnet", "worker", runs, H100_ENVIRONMENT)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["role"] == "reference-worker" and recorded.json["trusted"]

    base = "/api/v1/artifacts/alice/resnet/versions/1.0.0"
    document, verifications = http.get(base).json, http.get(f"{base}/verifications").json
    record = version_record(document, http.get(f"{base}/badges").json, verifications)
    params, acc = record["claims"]
    assert (params["hardware"], acc["hardware"]) == (None, "A100-80GB")
    assert params["latest_trusted"]["hardware_note"] is None
    assert acc["latest_trusted"]["hardware_note"] == H100_NOTE
    lines = "\n".join(claims_lines(record))
    assert f"acc (d/test): {H100_NOTE} (#{recorded.json['id']}; it counts all the same)" in lines
    assert lines.count("claimed on") == 1

    report = verifications[0]["report"]
    claims = document["manifest"]["claims"]
    assert hardware_lines(claims, report) == [f"acc (d/test): {H100_NOTE}"]
    assert hardware_lines(claims, {**report, "environment": {}}) == []  # a report that does not say: no note
    _print_report(report, claims)
    printed = capsys.readouterr().out
    assert f"acc (d/test): {H100_NOTE} (the verdict stands: it counts all the same)" in printed
    assert "outcome: reproduced" in printed
    _print_report(report)  # without the version's claims: the report alone, no note
    assert "claimed on" not in capsys.readouterr().out


def test_verify_reads_the_claims_of_the_version_its_report_checked():
    from regctl.cli.verifying import _claims_of
    from regctl.errors import ConnectionFailed

    report = {"name": "alice/resnet", "digest": "sha256:" + "a" * 64}

    class Api:
        def __init__(self, answer):
            self.answer = answer

        def get_version(self, name, reference):
            assert (name, reference) == (report["name"], report["digest"])
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    assert _claims_of(Api({"digest": report["digest"], "manifest": {"claims": ON_A100_CLAIMS}}), report) \
        == ON_A100_CLAIMS
    assert _claims_of(Api({"digest": "sha256:" + "b" * 64, "manifest": {"claims": ON_A100_CLAIMS}}), report) == []
    assert _claims_of(Api(ConnectionFailed("down")), report) == []


ON_A100_CLAIMS = [{"metric": "acc", "dataset": "d/test", "hardware": "A100-80GB"}]
