"""Where regctl finds the registry and its token: REGCTL_URL / REGCTL_TOKEN, else what 'regctl login' saved.

Every function takes the environment to read (``env``, by default this process's): regctl reads its own at its
edge; code that embeds regctl (a reference worker) passes what it chose, and sets nothing in ``os.environ``."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class ClientConfig:
    url: str
    token: str | None
    cache_dir: Path
    #: where the signing keys are kept (see regctl.keys)
    key_dir: Path


def config_file(env=None) -> Path:
    env = os.environ if env is None else env
    if env.get("REGCTL_CONFIG"):
        return Path(env["REGCTL_CONFIG"])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "regctl" / "config.json"


def key_dir(env=None) -> Path:
    """The signing keys live next to the config file, in ``keys/``."""
    return config_file(env).parent / "keys"


def cache_dir(env=None) -> Path:
    env = os.environ if env is None else env
    if env.get("REGCTL_CACHE_DIR"):
        return Path(env["REGCTL_CACHE_DIR"])
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "regctl"


def load_config(env=None) -> ClientConfig:
    env = os.environ if env is None else env
    saved = {}
    path = config_file(env)
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
    url = env.get("REGCTL_URL") or saved.get("url") or DEFAULT_URL
    token = env.get("REGCTL_TOKEN") or (saved.get("token") if saved.get("url") in (None, url) else None)
    return ClientConfig(url=url.rstrip("/"), token=token or None, cache_dir=cache_dir(env), key_dir=key_dir(env))


def save_login(url: str, token: str, env=None) -> Path:
    """Write the config file readable by its owner only (written via a temp file and rename)."""
    path = config_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url.rstrip("/"), "token": token}, handle)
    os.replace(temp, path)
    return path
