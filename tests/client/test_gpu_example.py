"""The GPU example (examples/digits-cnn-gpu) is a complete entry as written: its regctl.yaml validates with every
file it names, the manifest push would publish validates, its weights are the small safetensors file of the network
common.py defines, its claims are a spread over three seeds measured on named hardware, and its evaluation asks for
a GPU and refuses to run without one. PyTorch is not installed here: the weights are read from their safetensors
header, and eval.py runs against a stand-in torch that has no CUDA."""

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from regctl.hashing import sha256_file
from regctl.project import load_project
from reproreg_schemas.manifest import ManifestSchema
from reproreg_schemas.verdicts import judge_claim, runs_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-cnn-gpu"

#: the tensors of common.DigitsCNN: conv 3x3 (32), conv 3x3 (64), dense 1024→64, dense 64→10
EXPECTED_TENSORS = {
    "conv1.weight": [32, 1, 3, 3], "conv1.bias": [32],
    "conv2.weight": [64, 32, 3, 3], "conv2.bias": [64],
    "fc1.weight": [64, 1024], "fc1.bias": [64],
    "fc2.weight": [10, 64], "fc2.bias": [10],
}


@pytest.fixture(scope="module")
def project():
    return load_project(EXAMPLE)


def test_every_file_of_the_folder_is_published_and_hashes(project):
    on_disk = sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*")
                     if p.is_file() and p.name != "regctl.yaml" and "__pycache__" not in p.parts)
    assert [f.path for f in project.files] == on_disk
    digests = {}
    for local in project.files:
        digests[local.path], size = sha256_file(local.absolute)
        assert size == local.size > 0
    manifest = project.manifest(digests)
    assert ManifestSchema().validate(manifest) == {}
    assert {entry["path"]: entry["sha256"] for entry in manifest["files"]} == digests
    assert project.file_warnings == []


def test_the_checklist_is_complete_without_warnings(project):
    summary = project.checklist()
    assert (summary["answered"], summary["state"], summary["warnings"]) == (21, "complete", [])


def test_the_weights_are_the_networks_float32_tensors_in_a_few_hundred_kilobytes():
    data = (EXAMPLE / "weights" / "model.safetensors").read_bytes()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length])
    header.pop("__metadata__", None)
    assert {name: entry["shape"] for name, entry in header.items()} == EXPECTED_TENSORS
    assert {entry["dtype"] for entry in header.values()} == {"F32"}
    parameters = sum(math.prod(shape) for shape in EXPECTED_TENSORS.values())
    assert len(data) == 8 + header_length + 4 * parameters
    assert 100_000 < len(data) < 1_000_000


def test_the_claims_are_a_spread_over_three_seeds_on_named_hardware(project):
    accuracy, log_loss = project.claims
    assert (accuracy["metric"], accuracy["n_runs"], accuracy["hardware"]) == ("accuracy", 3, "H100-80GB")
    assert accuracy["std"] > 0 and log_loss["hardware"] == "H100-80GB"
    evaluation = project.evaluation
    assert evaluation["accelerator"] == "gpu"
    assert "{seed}" in evaluation["command"] and runs_for(project.claims, evaluation["command"]) == 3
    # values within the spread hold; a model that lost two points on the GPU does not
    assert judge_claim(accuracy, [0.9722, 0.9610, 0.9499])["verdict"] == "held"
    assert judge_claim(accuracy, [0.9350, 0.9300, 0.9400])["verdict"] == "failed"


#: a torch without CUDA whose every other attribute fails the test: eval.py must stop before it uses any
STAND_IN_TORCH = ("from types import SimpleNamespace\n"
                  "cuda = SimpleNamespace(is_available=lambda: False)\n"
                  "def __getattr__(name):\n"
                  "    raise AssertionError(f'torch.{name} used on a machine without a GPU')\n")


def test_eval_refuses_to_run_without_cuda_and_writes_no_metrics(tmp_path):
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(STAND_IN_TORCH)
    metrics = tmp_path / "metrics.json"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, str(EXAMPLE / "eval.py"), "--weights",
                             str(EXAMPLE / "weights" / "model.safetensors"), "--seed", "0", "--out", str(metrics)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "needs an NVIDIA GPU with CUDA" in result.stderr and "torch.cuda.is_available() is False" in result.stderr
    assert not metrics.exists()
