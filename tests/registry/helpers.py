import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reproreg_schemas.verification import key_challenge_bytes
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


def register_key(http, headers) -> tuple[Ed25519PrivateKey, str]:
    """A new Ed25519 key registered for the account behind ``headers`` (signing the registry's challenge)."""
    private = Ed25519PrivateKey.generate()
    public = base64.b64encode(private.public_key().public_bytes(serialization.Encoding.Raw,
                                                                serialization.PublicFormat.Raw)).decode()
    challenge = http.post("/api/v1/keys/challenge", headers=headers).json["challenge"]
    key = http.post("/api/v1/keys", headers=headers, json={
        "public_key": public, "challenge": challenge,
        "signature": base64.b64encode(private.sign(key_challenge_bytes(challenge))).decode()})
    assert key.status_code == 201, key.json
    return private, key.json["id"]
