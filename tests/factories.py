"""Builders of author folders (regctl.yaml and files) for the tests."""

import random
from pathlib import Path

import yaml

from reproreg_schemas.checklist import ITEMS


def full_checklist(answer: str = "yes") -> dict:
    return {item: {"answer": answer, "justification": f"see the README for {item}"} for item in ITEMS}


def author_file(name: str = "alice/resnet", version: str = "1.0.0", **overrides) -> dict:
    document = {
        "name": name,
        "version": version,
        "title": "ResNet on synthetic data",
        "paper": {"title": "A paper", "url": "https://example.org/paper", "venue": "neurips-2026"},
        "license": "apache-2.0",
        "files": ["weights/*.safetensors", "eval.py", "configs/train.yaml", "requirements.txt"],
        "training": {
            "config": "configs/train.yaml",
            "code": {"repo": "https://example.org/alice/resnet", "commit": "3f2c1ab"},
            "compute": {"hardware": "8x V100 32GB", "gpu_hours": 190},
        },
        "checklist": full_checklist(),
        "claims": [
            {"metric": "top1", "value": 0.953, "dataset": "cifar10/test", "tolerance": {"abs": 0.003}},
            {"metric": "loss", "value": 0.2, "dataset": "cifar10/test", "tolerance": {"max": 0.25},
             "std": 0.01, "n_runs": 3},
        ],
        "evaluation": {"command": "python eval.py --weights {files}/weights --out {metrics}",
                       "accelerator": "cpu", "timeout_s": 600},
        "release": {"visibility": "public"},
        "ethics": {"statement": "No known risks."},
    }
    document.update(overrides)
    return document


def write_file(path: Path, size: int, seed: int = 0) -> Path:
    """A file of ``size`` deterministic pseudo-random bytes, written 1 MiB at a time (memory stays flat)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = random.Random(seed).randbytes(1 << 20)
    with open(path, "wb") as handle:
        remaining, counter = size, 0
        while remaining > 0:
            chunk = (counter.to_bytes(8, "big") + block[8:])[: min(len(block), remaining)]
            handle.write(chunk)
            remaining -= len(chunk)
            counter += 1
    return path


def make_project(folder: Path, weights_size: int = 1024, seed: int = 0, **overrides) -> Path:
    """A complete author folder: weights, eval.py, training config, requirements, regctl.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    write_file(folder / "weights" / "model.safetensors", weights_size, seed)
    (folder / "eval.py").write_text("import json, sys\nprint('evaluating')\n")
    (folder / "configs").mkdir(exist_ok=True)
    (folder / "configs" / "train.yaml").write_text("lr: 0.1\nepochs: 90\nbatch_size: 256\n")
    (folder / "requirements.txt").write_text("numpy\n")
    write_author_file(folder, author_file(**overrides))
    return folder


def write_author_file(folder: Path, document: dict) -> None:
    (folder / "regctl.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def make_eval_project(folder: Path, name: str, eval_source: str, claims: list[dict], **evaluation) -> Path:
    """A small artifact whose eval.py is ``eval_source`` (it receives --out METRICS)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_file(folder / "weights" / "model.safetensors", 4096)
    (folder / "eval.py").write_text(eval_source)
    (folder / "requirements.txt").write_text("\n")
    spec = {"command": "python {files}/eval.py --out {metrics}", "accelerator": "cpu", "timeout_s": 60}
    spec.update(evaluation)
    document = author_file(name=name, files=["weights/model.safetensors", "eval.py", "requirements.txt"],
                           claims=claims, evaluation=spec, training={"compute": {"hardware": "1 CPU"}})
    write_author_file(folder, document)
    return folder


METRIC_SCRIPT = """import json, sys
out = sys.argv[sys.argv.index("--out") + 1]
{body}
json.dump(metrics, open(out, "w"))
"""
