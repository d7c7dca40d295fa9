"""Who a worker is, where it keeps its things, and the environment its evaluations start from."""

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from regctl.api import ApiClient
from regctl.cache import BlobCache
from reproreg_schemas.vocabulary import Accelerator
from reproreg_worker.environment import evaluation_environment


@dataclass(frozen=True)
class WorkerIdentity:
    url: str
    token: str
    name: str
    accelerators: tuple[str, ...] = (Accelerator.CPU,)
    hardware: str = Accelerator.CPU
    #: the worker's own folder: its signing key (``keys/``) and its blob cache (``cache/``)
    home: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "registry-worker")
    heartbeat_s: float = 10.0
    #: what evaluations start from (only its allowlisted part reaches them): by default this process's
    #: environment with the worker's own Python first on PATH
    environment: Mapping[str, str] = field(default_factory=lambda: evaluation_environment(os.environ))

    @property
    def key_dir(self) -> Path:
        return self.home / "keys"

    def api(self) -> ApiClient:
        return ApiClient(self.url, self.token)

    def cache(self) -> BlobCache:
        return BlobCache(self.home / "cache")
