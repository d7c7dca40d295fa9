"""Who a worker is, where it keeps its things, and the environment its evaluations start from."""

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from regctl.api import ApiClient
from regctl.cache import BlobCache
from reproreg_schemas.vocabulary import Accelerator
from reproreg_schemas.workers import has_memory
from reproreg_worker.environment import evaluation_environment
from reproreg_worker.gpus import GpuInfo


@dataclass(frozen=True)
class WorkerIdentity:
    url: str
    token: str
    name: str
    accelerators: tuple[str, ...] = (Accelerator.CPU,)
    hardware: str = Accelerator.CPU
    #: the GPUs it registers with the registry (None: no GPU, it takes CPU jobs only)
    gpu: GpuInfo | None = None
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

    def register(self) -> dict:
        """Tell the registry what this worker can run (at start, then at every poll: its last sighting)."""
        return self.api().register_worker(self.name, list(self.accelerators),
                                          self.gpu.document() if self.gpu else None)

    def can_run(self, job: dict) -> bool:
        """Whether a job (as ``/jobs/runnable`` lists it) fits this worker's accelerators and GPU memory."""
        if job["accelerator"] not in self.accelerators:
            return False
        needed = job.get("min_memory_gb") if job["accelerator"] == Accelerator.GPU else None
        return has_memory(self.gpu.memory_gb if self.gpu else None, needed)
