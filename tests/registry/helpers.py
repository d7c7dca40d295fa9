import hashlib

from tests.factories import author_file


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def upload(http, headers, data: bytes) -> dict:
    """Upload ``data`` in one request through the API; returns the final upload state."""
    state = http.post("/api/v1/uploads", json={"digest": digest_of(data), "size": len(data)}, headers=headers).json
    if state["complete"]:
        return state
    response = http.patch(f"/api/v1/uploads/{state['id']}", data=data,
                          headers={**headers, "Upload-Offset": str(state["offset"])})
    assert response.status_code == 200, response.json
    return response.json


def manifest_for(files: dict[str, bytes], name: str = "alice/resnet", version: str = "1.0.0", **overrides) -> dict:
    document = author_file(name=name, version=version, **overrides)
    document.pop("release", None)
    document["files"] = [{"path": path, "size": len(data), "sha256": digest_of(data)} for path, data in files.items()]
    document["manifest_version"] = 1
    if document.get("training") and document["training"].get("config") not in files:
        document["training"].pop("config", None)
    return document


def publish(http, headers, files: dict[str, bytes], visibility: str = "public", **overrides):
    for data in files.values():
        upload(http, headers, data)
    manifest = manifest_for(files, **overrides)
    return http.put(f"/api/v1/artifacts/{manifest['name']}/versions/{manifest['version']}",
                    json={"manifest": manifest, "release": {"visibility": visibility}}, headers=headers)


FILES = {
    "weights/model.safetensors": b"\x00weights" * 1000,
    "eval.py": b"print('eval')\n",
    "configs/train.yaml": b"lr: 0.1\nepochs: 3\n",
    "requirements.txt": b"numpy\n",
}
