"""The verifier's Ed25519 signing key: made by 'regctl keys create', its public half registered with the
registry (with a signature over a challenge the registry issued, proving the key is held), its private half
kept in a key folder (readable by its owner only): regctl's is next to its config (``ClientConfig.key_dir``); a
reference worker keeps its own under its home. Every function takes the folder (``folder``); without one,
regctl's, from this process's environment.

Signing binds a report to its signer: ``sign`` writes the verifier's account name, a fresh random nonce and the
signing time into the report before signing it, so that the registry accepts it once, from that account, while
it is fresh."""

import base64
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from regctl import config
from regctl.api import ApiClient
from regctl.errors import UsageError
from reproreg_schemas.verification import key_challenge_bytes, report_bytes


def key_dir(env=None) -> Path:
    """regctl's key folder, from ``env`` (by default this process's environment)."""
    return config.key_dir(env)


def _paths(url: str, folder: Path | None) -> tuple[Path, Path]:
    """The private key and its registration (key id) for the registry at ``url``, in ``folder``."""
    slug = "".join(ch if ch.isalnum() else "_" for ch in url.split("://", 1)[-1]).strip("_")
    folder = key_dir() if folder is None else Path(folder)
    return folder / f"{slug}.pem", folder / f"{slug}.json"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)


def create_key(api: ApiClient, name: str | None, folder: Path | None = None) -> dict:
    """Make a key pair, register the public half (signing the registry's challenge with the private half), and
    save both (replacing an older key for this registry)."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    registered = register_public_key(api, private, base64.b64encode(public).decode(), name)
    pem_path, meta_path = _paths(api.url, folder)
    _write_private(pem_path, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    _write_private(meta_path, json.dumps({"key_id": registered["id"], "url": api.url}).encode())
    return {"key_id": registered["id"], "public_key": registered["public_key"], "path": str(pem_path)}


def register_public_key(api: ApiClient, private: Ed25519PrivateKey, public_key: str, name: str | None) -> dict:
    """Challenge, sign, register: the registry takes a key only from someone who holds it."""
    challenge = api.key_challenge()["challenge"]
    signature = base64.b64encode(private.sign(key_challenge_bytes(challenge))).decode()
    return api.register_key(public_key, name, challenge, signature)


def has_key(api: ApiClient, folder: Path | None = None) -> bool:
    return all(path.exists() for path in _paths(api.url, folder))


def sign(api: ApiClient, report: dict, folder: Path | None = None) -> tuple[str, str]:
    """(key id, base64 signature) of a report, with the key registered for this registry. Fills in the report's
    ``verifier`` (this account), ``nonce`` and ``signed_at`` first; ``job`` stays as the verification set it."""
    pem_path, meta_path = _paths(api.url, folder)
    if not pem_path.exists() or not meta_path.exists():
        raise UsageError("no signing key for this registry: run 'regctl keys create' first", code="NO_KEY")
    private = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
    bind_to_signer(report, api.whoami()["name"])
    signature = private.sign(report_bytes(report))
    return json.loads(meta_path.read_text())["key_id"], base64.b64encode(signature).decode()


def bind_to_signer(report: dict, account: str) -> dict:
    """Name the signing account, and make the report one of a kind (a nonce of 128 random bits) and dated."""
    report["verifier"] = account
    report["nonce"] = secrets.token_hex(16)
    report["signed_at"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return report
