"""Where regctl finds the registry and its token: the command line's ``--url``, REGCTL_URL / REGCTL_TOKEN, else
what 'regctl login' saved.

Every function takes the environment to read (``env``, by default this process's): regctl reads its own at its
edge; code that embeds regctl (a reference worker) passes what it chose, and sets nothing in ``os.environ``.
The address given on regctl's command line (``regctl --url URL COMMAND``) holds for that one run: it is set with
:func:`url_for_this_run` around the command, and read only when regctl reads its own environment."""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from regctl.errors import UsageError

DEFAULT_URL = "http://127.0.0.1:8080"
URL_SCHEMES = ("http", "https")

#: the registry named on the command line for this run (regctl --url), over REGCTL_URL and the saved one
_RUN_URL: ContextVar[str | None] = ContextVar("regctl_run_url", default=None)


def check_url(url: str, source: str = "REGCTL_URL") -> str:
    """The registry's address without a trailing slash, or a usage error saying what is wrong with it: it needs
    the scheme (http:// or https://) and a host, e.g. http://127.0.0.1:8080."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError as err:
        raise UsageError(f"{source} {url!r} is not a valid address ({err}); give it as http://HOST:PORT, "
                         f"e.g. {DEFAULT_URL}", code="INVALID_URL") from None
    if parts.scheme not in URL_SCHEMES or "://" not in text:
        hint = f"http://{text}" if "://" not in text and text else DEFAULT_URL
        raise UsageError(f"{source} {url!r} must start with http:// or https://, e.g. {hint}", code="INVALID_URL")
    if not parts.hostname:
        raise UsageError(f"{source} {url!r} names no host; give it as http://HOST:PORT, e.g. {DEFAULT_URL}",
                         code="INVALID_URL")
    if parts.query or parts.fragment:
        raise UsageError(f"{source} {url!r} must be the registry's address alone, without '?' or '#'",
                         code="INVALID_URL")
    return text.rstrip("/")


@contextmanager
def url_for_this_run(url: str | None) -> Iterator[None]:
    """While the block runs, ``load_config()`` (reading this process's environment) uses ``url`` as the registry:
    regctl's ``--url`` option, which overrides REGCTL_URL and the saved address for one command."""
    token = _RUN_URL.set(check_url(url, "--url") if url else None)
    try:
        yield
    finally:
        _RUN_URL.reset(token)


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
    """The registry, token and folders to use. The URL is checked (a usage error when it lacks its scheme)."""
    run_url = _RUN_URL.get() if env is None else None
    env = os.environ if env is None else env
    saved = {}
    path = config_file(env)
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
    if run_url:
        url, source = run_url, "--url"
    elif env.get("REGCTL_URL"):
        url, source = env["REGCTL_URL"], "REGCTL_URL"
    else:
        url, source = saved.get("url") or DEFAULT_URL, f"the address saved in {path}"
    url = check_url(url, source)
    token = env.get("REGCTL_TOKEN") or (saved.get("token") if saved.get("url") in (None, url) else None)
    return ClientConfig(url=url, token=token or None, cache_dir=cache_dir(env), key_dir=key_dir(env))


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
