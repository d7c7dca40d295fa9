"""schemathesis over every operation of /api/v1/openapi.json, with every check, against `registry serve`.

The server runs on SQLite with a user, a token, a published public version and a venue, so that generated requests
reach the operations' logic. Whatever operations the document lists at run time are judged. The run is bounded
(examples per operation, a fixed seed) and must report nothing: no 500, no response that contradicts the document
(error envelope included), no 405 without Allow, no schema-valid request refused for a reason the document hides.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.live import LiveRegistry
from tests.registry.helpers import FILES, digest_of, manifest_for

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: test cases per operation and phase: the whole run stays within a few minutes on two cores
MAX_EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("REGISTRY_FUZZ_SEED", "20260101")


def _publish(registry: LiveRegistry, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for data in FILES.values():
        state = requests.post(f"{registry.url}/api/v1/uploads", json={"digest": digest_of(data), "size": len(data)},
                              headers=headers, timeout=30).json()
        if not state["complete"]:
            sent = requests.patch(f"{registry.url}/api/v1/uploads/{state['id']}", data=data, timeout=30,
                                  headers={**headers, "Upload-Offset": str(state["offset"])})
            assert sent.status_code == 200, sent.text
    manifest = manifest_for(FILES, name="alice/resnet", version="1.0.0")
    published = requests.put(f"{registry.url}/api/v1/artifacts/alice/resnet/versions/1.0.0", headers=headers,
                             json={"manifest": manifest, "release": {"visibility": "public"}}, timeout=30)
    assert published.status_code == 201, published.text


@pytest.fixture
def seeded_registry(migrated_sqlite, tmp_path):
    database = tmp_path / "registry.db"
    shutil.copy(migrated_sqlite, database)
    registry = LiveRegistry(f"sqlite:///{database}", tmp_path / "blobs", tmp_path / "server.log").start()
    try:
        token = registry.create_user("alice")
        registry.admin("venues", "create", "neurips-2026", "--title", "NeurIPS 2026", "--chair", "alice")
        _publish(registry, token)
        yield registry, token
    finally:
        registry.stop()


def test_schemathesis_finds_nothing(seeded_registry, tmp_path):
    registry, token = seeded_registry
    env = {**os.environ, "REGISTRY_FUZZ_NAMESPACE": "alice", "REGISTRY_FUZZ_NAME": "resnet",
           "REGISTRY_FUZZ_VERSION": "1.0.0", "REGISTRY_FUZZ_DIGEST": digest_of(FILES["eval.py"]),
           "REGISTRY_FUZZ_VENUE": "neurips-2026", "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    command = [SCHEMATHESIS, "--config-file", CONFIG, "run", f"{registry.url}/api/v1/openapi.json",
               "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
               "--header", f"Authorization: Bearer {token}", "--request-timeout", "30",
               "--report", "junit", "--report-dir", tmp_path / "report"]
    result = subprocess.run(list(map(str, command)), env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert "Tested: 0" not in result.stdout and " passed" in result.stdout, result.stdout[-3000:]
