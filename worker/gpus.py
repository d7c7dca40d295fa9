"""Which NVIDIA GPUs this machine has, as nvidia-smi reports them.

``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`` prints one line per GPU, e.g.
``NVIDIA H100 80GB HBM3, 81559``: the name and the memory in MiB. The worker reports the memory in GB of 10^9
bytes (see ``reproreg_schemas.workers``). On a node with several GPUs, the model is the first GPU's and the
memory the smallest of them (a job may land on any), with their count."""

import logging
import shutil
import subprocess
from dataclasses import dataclass

from reproreg_schemas.workers import memory_gb_from_mib

log = logging.getLogger(__name__)

NVIDIA_SMI_QUERY = ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
#: ``--gpu`` given without a name: the detected GPUs under their own name
AUTO = "auto"
#: seconds nvidia-smi may take (a wedged driver can hang it)
NVIDIA_SMI_TIMEOUT_S = 30


@dataclass(frozen=True)
class GpuInfo:
    model: str
    #: memory of each GPU, GB of 10^9 bytes
    memory_gb: float
    count: int = 1

    def named(self, model: str | None) -> "GpuInfo":
        """The same GPUs under another name (``registry worker --gpu NAME``): only the name changes."""
        return GpuInfo(model, self.memory_gb, self.count) if model else self

    def document(self) -> dict:
        return {"model": self.model, "memory_gb": self.memory_gb, "count": self.count}


def parse_nvidia_smi(output: str) -> GpuInfo | None:
    """The GPUs in nvidia-smi's CSV output (see the module), or None when it lists none it can read."""
    gpus = []
    for line in output.splitlines():
        name, _, memory = line.rpartition(",")
        name = name.strip()
        try:
            mib = float(memory.strip())
        except ValueError:
            continue  # "[N/A]", a warning, an empty line
        if name and mib > 0:
            gpus.append((name, mib))
    if not gpus:
        return None
    return GpuInfo(model=gpus[0][0], memory_gb=memory_gb_from_mib(min(mib for _, mib in gpus)), count=len(gpus))


def detect_gpus(executable: str = "nvidia-smi") -> GpuInfo | None:
    """This machine's GPUs, found by running nvidia-smi (looked up on PATH); None when it is missing or fails."""
    path = shutil.which(executable)
    if path is None:
        return None
    try:
        result = subprocess.run([path, *NVIDIA_SMI_QUERY], capture_output=True, text=True,
                                timeout=NVIDIA_SMI_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("nvidia-smi could not be run: %s", err)
        return None
    if result.returncode != 0:
        log.warning("nvidia-smi failed (exit %s): %s", result.returncode, result.stderr.strip()[:500])
        return None
    return parse_nvidia_smi(result.stdout)


def resolve_gpu(option: str | None, detected: GpuInfo | None) -> GpuInfo | None:
    """What ``--gpu`` means: absent, no GPU jobs; ``--gpu`` (``auto``) the detected GPUs; ``--gpu NAME`` the
    detected GPUs under that name. Asking for GPU jobs on a machine where nvidia-smi finds no GPU is an error."""
    if option is None:
        return None
    if detected is None:
        raise ValueError("--gpu: nvidia-smi finds no NVIDIA GPU on this machine (is the driver installed and "
                         "nvidia-smi on PATH?); without a GPU, run the worker without --gpu")
    return detected.named(None if option == AUTO else option)
