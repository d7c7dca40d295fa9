"""Hostile input, sent as an attacker or a careless author would: YAML alias bombs, JSON nested 100,000 deep,
numbers and text JSON cannot carry, and bidirectional or control characters in paths, names and titles.

The registry answers each with its error envelope and a 4xx, never a 500; regctl refuses the same files before
anything is uploaded.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from regctl.errors import InvalidProjectError
from regctl.project import load_project
from tests.factories import author_file, make_project, write_author_file
from tests.registry.helpers import FILES, manifest_for, publish, upload

REGCTL = Path(sys.executable).parent / "regctl"

#: 272 bytes that expand to 9**7 strings: 39 MB of JSON
BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
)
HOSTILE_CONFIGS = {
    "billion-laughs": BILLION_LAUGHS,
    "self-reference": "loop: &a [*a]\n",
    "nested-2000-deep": "x: " + "[" * 2000 + "]" * 2000 + "\n",
    "nan": "lr: .nan\n",
    "a-date-as-a-key": "2026-01-01: warmup\n",
}


def _publish_with_config(http, headers, config: bytes):
    return publish(http, headers, {**FILES, "configs/train.yaml": config})


@pytest.mark.parametrize("config", HOSTILE_CONFIGS.values(), ids=HOSTILE_CONFIGS.keys())
def test_a_hostile_training_config_is_refused_and_nothing_is_published(http, make_user, config):
    _, alice = make_user("alice")
    response = _publish_with_config(http, alice, config.encode())
    assert response.status_code == 422, response.data[:300]
    error = response.json["error"]
    assert error["code"] == "INVALID_TRAINING_CONFIG" and error["details"]["path"] == "configs/train.yaml"
    assert "\n" not in error["message"]
    assert http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0").status_code == 404


def test_a_config_with_ordinary_anchors_and_merge_keys_is_stored_expanded(http, make_user):
    _, alice = make_user("alice")
    config = b"base: &base {lr: 0.1, momentum: 0.9}\nfinetune:\n  <<: *base\n  lr: 0.01\nstages: [*base, *base]\n"
    response = _publish_with_config(http, alice, config)
    assert response.status_code == 201, response.json
    assert response.json["training_config"]["finetune"] == {"lr": 0.01, "momentum": 0.9}
    assert response.json["training_config"]["stages"] == [{"lr": 0.1, "momentum": 0.9}] * 2


@pytest.mark.parametrize("where", ["regctl.yaml", "checklist", "training config"])
def test_regctl_refuses_a_yaml_bomb_before_uploading(tmp_path, where):
    folder = make_project(tmp_path / "p")
    document = author_file()
    if where == "regctl.yaml":
        (folder / "regctl.yaml").write_text(BILLION_LAUGHS + yaml.safe_dump(document))
    elif where == "checklist":
        (folder / "checklist.yaml").write_text(BILLION_LAUGHS)
        write_author_file(folder, {**document, "checklist": "checklist.yaml"})
    else:
        (folder / "configs" / "train.yaml").write_text(BILLION_LAUGHS)
    result = _regctl("push", folder)
    assert result.returncode == 4, result.stderr
    assert "expands to more than" in result.stderr and "Traceback" not in result.stderr
    assert all(len(line) < 300 for line in result.stderr.splitlines())


def _regctl(*args) -> subprocess.CompletedProcess:
    """regctl pointed at a port nothing listens on: reaching the network would exit 5, not 4."""
    env = {**os.environ, "REGCTL_URL": "http://127.0.0.1:9", "REGCTL_TOKEN": "rrt_unused",
           "XDG_CONFIG_HOME": "/nonexistent", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([REGCTL, *map(str, args)], capture_output=True, text=True, env=env, timeout=60)


# --- JSON request bodies ----------------------------------------------------------------------------------------

def _json_operations(http) -> list[tuple[str, str]]:
    """Every operation of the API that takes a JSON body, as (method, path with placeholders filled)."""
    spec = http.get("/api/v1/openapi.json").json
    operations = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters" and "application/json" in operation.get("requestBody", {}).get("content", {}):
                operations.append((method.upper(), path.replace("{", "").replace("}", "")))
    assert len(operations) >= 8, operations
    return operations


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
    '{"manifest": ' + "[" * 65 + "]" * 65 + "}",
    '{"report": {"x": NaN}}',
    '{"size": Infinity}',
    '{"size": 1e999}',
    '{"size": ' + "9" * 5000 + "}",
    '{"reason": "\\ud800"}',
], ids=["list-100k", "object-100k", "past-the-depth-limit", "nan", "infinity", "overflow", "huge-integer",
        "lone-surrogate"])
def test_every_json_entry_point_answers_400_in_the_envelope(http, make_user, body):
    _, alice = make_user("alice")
    for method, path in _json_operations(http):
        response = http.open(path, method=method, data=body, headers={**alice, "Content-Type": "application/json"})
        assert response.status_code == 400, (method, path, response.status_code, response.data[:200])
        assert response.json["error"]["code"] == "BAD_REQUEST", (method, path)


def _nested(depth: int):
    value: object = "leaf"
    for level in range(depth):
        value = {f"level{level}": value} if level % 2 else [value]
    return value


def test_deep_data_inside_stored_json_fields_is_refused_or_served(http, make_user):
    """Free-form fields stored as JSON (bias evaluations here) are bounded by the body's depth: what is accepted
    can be signed, stored, served and shown; what is deeper is refused up front."""
    _, alice = make_user("alice")
    for data in FILES.values():
        upload(http, alice, data)
    manifest = manifest_for(FILES)
    manifest["ethics"] = {"statement": "s", "bias_evaluations": [{"deep": _nested(58)}]}
    published = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest}, headers=alice)
    assert published.status_code == 201, published.json
    assert http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0").status_code == 200
    assert http.get("/alice/resnet/1.0.0").status_code == 200

    manifest["version"] = "1.0.1"
    manifest["ethics"]["bias_evaluations"] = [{"deep": _nested(900)}]
    refused = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.1", json={"manifest": manifest}, headers=alice)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "BAD_REQUEST"
    assert http.get("/api/v1/artifacts/alice/resnet/versions/1.0.1").status_code == 404


# --- control, bidirectional and invisible characters --------------------------------------------------------------

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "evil\u202etxt.exe" shows as "evilexe.txt"
HOSTILE_TEXT = {
    "rlo": RLO, "lri": "\u2066", "pdi": "\u2069", "lrm": "\u200e", "zwsp": "\u200b", "bom": "\ufeff",
    "nel-c1": "\x85", "csi-c1": "\x9b", "esc": "\x1b", "bell": "\x07", "del": "\x7f", "line-separator": "\u2028",
}


def _with_text(manifest: dict, field: str, bad: str) -> dict:
    manifest = json.loads(json.dumps(manifest))
    if field == "title":
        manifest["title"] = f"ResNet{bad} on CIFAR"
    elif field == "paper.title":
        manifest["paper"]["title"] = f"A {bad}paper"
    elif field == "paper.authors[0]":
        manifest["paper"]["authors"] = [f"A. {bad}Author"]
    elif field == "license":
        manifest["license"] = f"apache{bad}-2.0"
    elif field == "claims[0].metric":
        manifest["claims"][0]["metric"] = f"top1{bad}"
    elif field == "claims[0].dataset":
        manifest["claims"][0]["dataset"] = f"cifar10{bad}/test"
    elif field == "training.compute.hardware":
        manifest["training"]["compute"]["hardware"] = f"8x V100{bad}"
    return manifest


ONE_LINE_FIELDS = ["title", "paper.title", "paper.authors[0]", "license", "claims[0].metric", "claims[0].dataset",
                   "training.compute.hardware"]


@pytest.mark.parametrize("bad", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_one_line_fields_refuse_control_bidi_and_invisible_characters(http, make_user, bad):
    _, alice = make_user("alice")
    for data in FILES.values():
        upload(http, alice, data)
    for field in ONE_LINE_FIELDS:
        manifest = _with_text(manifest_for(FILES), field, bad)
        response = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest},
                             headers=alice)
        assert response.status_code == 422, (field, response.status_code)
        assert list(response.json["error"]["details"]["problems"]) == [field]
    assert http.get("/api/v1/artifacts/alice/resnet/versions/1.0.0").status_code == 404


@pytest.mark.parametrize("bad", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_file_paths_refuse_control_bidi_and_invisible_characters(http, make_user, bad):
    _, alice = make_user("alice")
    data = b"print('hello')\n"
    upload(http, alice, data)
    manifest = manifest_for({f"eval{bad}yp.py": data})
    response = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest}, headers=alice)
    assert response.status_code == 422
    assert "files[0].path" in response.json["error"]["details"]["problems"]


def test_multi_line_text_keeps_line_breaks_but_refuses_bidi_and_c1(http, make_user):
    _, alice = make_user("alice")
    for data in FILES.values():
        upload(http, alice, data)
    manifest = manifest_for(FILES)
    manifest["checklist"]["MA1"]["justification"] = "Section 3.\n\tSee the appendix.\r\n"
    manifest["claims"][0]["description"] = "measured on\nthe test split"
    assert http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest},
                    headers=alice).status_code == 201
    for field, bad in (("justification", RLO), ("justification", "\x85"), ("statement", "\u2067"),
                       ("bias", "\x9b")):
        manifest["version"] = "1.0.1"
        hostile = json.loads(json.dumps(manifest))
        if field == "justification":
            hostile["checklist"]["MA1"]["justification"] = f"see {bad}section 3"
        elif field == "statement":
            hostile["ethics"] = {"statement": f"no risks{bad}"}
        else:
            hostile["ethics"] = {"bias_evaluations": [{"group": f"a{bad}", "gap": 0.01}]}
        response = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.1", json={"manifest": hostile},
                            headers=alice)
        assert response.status_code == 422, (field, response.json)


def test_right_to_left_text_without_controls_is_accepted(http, make_user):
    _, alice = make_user("alice")
    for data in FILES.values():
        upload(http, alice, data)
    manifest = manifest_for(FILES, title="שלום עולם: مرحبا بالعالم")
    assert http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest},
                    headers=alice).status_code == 201


@pytest.mark.parametrize("where", ["path", "title", "metric"])
def test_regctl_refuses_bidi_and_c1_characters_before_uploading(tmp_path, where):
    document = author_file()
    folder = make_project(tmp_path / "p")
    if where == "path":
        (folder / f"eval{RLO}yp.py").write_text("print()\n")
        document["files"] = [*document["files"], f"eval{RLO}yp.py"]
    elif where == "title":
        document["title"] = f"ResNet\x85{RLO}"
    else:
        document["claims"][0]["metric"] = f"top1{RLO}"
    write_author_file(folder, document)
    with pytest.raises(InvalidProjectError) as refused:
        load_project(folder)
    assert "U+202E" in json.dumps(refused.value.details) or "U+0085" in json.dumps(refused.value.details)
    result = _regctl("push", folder)
    assert result.returncode == 4, result.stderr
    assert "nothing was uploaded" in result.stderr


# --- references and refusals in the registry's words ---------------------------------------------------------------

@pytest.mark.parametrize("reference", ["sha256:abc", "sha256:" + "A" * 64, "sha256:" + "0" * 63, "SHA256:" + "0" * 64,
                                       "sha256:" + "0" * 64 + "00"])
def test_a_malformed_digest_is_called_one_and_never_an_unknown_version(http, make_user, reference):
    _, alice = make_user("alice")
    assert publish(http, alice, FILES).status_code == 201
    for path in (f"/api/v1/artifacts/alice/resnet/versions/{reference}",
                 f"/api/v1/artifacts/alice/resnet/versions/{reference}/badges",
                 f"/api/v1/artifacts/alice/resnet/versions/{reference}/verifications"):
        response = http.get(path)
        assert response.status_code == 400, (path, response.status_code)
        error = response.json["error"]
        assert error["code"] == "INVALID_DIGEST" and error["message"].startswith(f"malformed digest {reference!r}")


def test_an_unknown_version_names_the_versions_there_are_newest_first(http, make_user):
    _, alice = make_user("alice")
    for version in ("0.9.0", "1.0.0", "1.0.1", "1.1.0-rc.1", "1.1.0", "2.0.0", "10.0.0"):
        assert publish(http, alice, FILES, version=version).status_code == 201, version
    response = http.get("/api/v1/artifacts/alice/resnet/versions/3.0.0")
    assert response.status_code == 404
    assert response.json["error"]["message"] == ("alice/resnet has no version '3.0.0'; its versions are 10.0.0, 2.0.0, "
                                                 "1.1.0, 1.1.0-rc.1, 1.0.1 and 2 more")
    assert response.json["error"]["details"]["versions"] == ["10.0.0", "2.0.0", "1.1.0", "1.1.0-rc.1", "1.0.1"]
    latest = http.get("/api/v1/artifacts/alice/resnet/versions/latest")
    assert latest.status_code == 200 and latest.json["version"] == "10.0.0"


def test_a_claim_is_refused_in_the_registrys_words_on_the_api(http, make_user):
    from reproreg_schemas.messages import LIBRARY_DEFAULTS

    _, alice = make_user("alice")
    manifest = manifest_for(FILES)
    manifest["claims"][0]["tolerance"] = 0.01
    manifest["claims"][1].update({"value": "high", "seeds": [0, 1], "metric": 5})
    for data in FILES.values():
        upload(http, alice, data)
    response = http.put("/api/v1/artifacts/alice/resnet/versions/1.0.0", json={"manifest": manifest}, headers=alice)
    assert response.status_code == 422
    problems = response.json["error"]["details"]["problems"]
    assert "{abs: 0.01}" in problems["claims[0].tolerance"][0]
    assert problems["claims[1].value"] == ["must be a number"]
    assert problems["claims[1].metric"] == ["must be text (a string)"]
    assert problems["claims[1].seeds"] == ["is not a field the registry knows; check its spelling and where it is "
                                           "nested"]
    assert not [m for messages in problems.values() for m in messages if m in LIBRARY_DEFAULTS]


def test_regctl_says_what_a_bare_number_tolerance_should_be_before_uploading(tmp_path):
    project = make_project(tmp_path / "p")
    document = author_file()
    document["claims"][0]["tolerance"] = 0.01
    write_author_file(project, document)
    with pytest.raises(InvalidProjectError) as refused:
        load_project(project)
    (message,) = refused.value.details["problems"]["claims[0].tolerance"]
    assert "{abs: 0.01}" in message and "{rel: 0.01}" in message
