"""The environment a verification ran in: OS, Python, key packages, CPU, GPU, driver and CUDA."""

import glob
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata

KEY_PACKAGES = ("torch", "torchvision", "jax", "jaxlib", "tensorflow", "numpy", "scipy", "scikit-learn", "pandas",
                "transformers", "safetensors", "onnxruntime", "xgboost", "lightgbm")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return None


def gpus() -> tuple[list[dict], str | None]:
    """GPUs reported by nvidia-smi, and the CUDA version the driver supports."""
    if not shutil.which("nvidia-smi"):
        return [], None
    try:
        listing = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return [], None
    found = []
    for line in listing.stdout.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3:
            found.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", header)
    return found, cuda.group(1) if cuda else None


def gpu_device_nodes(dev: str = "/dev") -> list[str]:
    """The NVIDIA device nodes CUDA opens (``nvidia0``..., ``nvidiactl``, ``nvidia-uvm``, ``nvidia-modeset``) and
    the ``nvidia-caps`` folder where present; a GPU evaluation's sandbox gets exactly these."""
    return sorted(glob.glob(os.path.join(glob.escape(dev), "nvidia*")))


def packages() -> dict[str, str]:
    present = {}
    for name in KEY_PACKAGES:
        try:
            present[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return present


def capture(accelerator_requested: str) -> dict:
    found, cuda = gpus()
    return {
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": packages(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib(),
        "gpus": found,
        "cuda": cuda,
        "accelerator_requested": accelerator_requested,
        "accelerator_used": "gpu" if found and accelerator_requested == "gpu" else "cpu",
    }
