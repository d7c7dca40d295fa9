"""The environment a verification ran in: OS, Python, key packages, CPU, GPU (model, memory, driver, CUDA) and
the framework's determinism settings, as the evaluation's own Python sees them."""

import glob
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from importlib import metadata

KEY_PACKAGES = ("torch", "torchvision", "jax", "jaxlib", "tensorflow", "numpy", "scipy", "scikit-learn", "pandas",
                "transformers", "safetensors", "onnxruntime", "xgboost", "lightgbm")
#: what nvidia-smi is asked for, one line per GPU
GPU_QUERY = ("--query-gpu=name,memory.total,driver_version", "--format=csv,noheader")
NVIDIA_SMI_TIMEOUT_S = 20
PROBE_TIMEOUT_S = 120
#: run in the evaluation's Python: PyTorch's version and determinism settings, or null without PyTorch. It never
#: initialises CUDA (no device is touched), and it reads the settings as a fresh process starts with them.
TORCH_PROBE = """
import importlib.util, json, os
if importlib.util.find_spec("torch") is None:
    print(json.dumps({"torch": None}))
    raise SystemExit(0)
import torch
backends = torch.backends
print(json.dumps({"torch": {
    "version": str(torch.__version__),
    "cuda": torch.version.cuda,
    "cudnn": backends.cudnn.version() if backends.cudnn.is_available() else None,
    "cudnn_deterministic": bool(backends.cudnn.deterministic),
    "cudnn_benchmark": bool(backends.cudnn.benchmark),
    "matmul_allow_tf32": bool(backends.cuda.matmul.allow_tf32),
    "cudnn_allow_tf32": bool(backends.cudnn.allow_tf32),
    "float32_matmul_precision": torch.get_float32_matmul_precision(),
    "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
    "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
}}))
"""


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


# -- GPUs --------------------------------------------------------------------------------------------------------

def _mib(memory: str) -> int | None:
    """``81559 MiB`` (nvidia-smi's unit) as a whole number of MiB; None for ``[N/A]`` and the like."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(MiB|GiB)?", memory.strip())
    if not match:
        return None
    value = float(match.group(1))
    return round(value * 1024) if match.group(2) == "GiB" else round(value)


def parse_gpu_query(listing: str) -> list[dict]:
    """The GPUs in the output of ``nvidia-smi --query-gpu=name,memory.total,driver_version
    --format=csv,noheader``: name, memory as written (``81559 MiB``) and in MiB, driver version. A GPU's name
    may itself hold a comma, so the last two fields are taken from the right."""
    found = []
    for line in listing.strip().splitlines():
        parts = [part.strip() for part in line.rsplit(",", 2)]
        if len(parts) != 3 or not parts[0]:
            continue
        name, memory, driver = parts
        found.append({"name": name, "memory": memory, "memory_mib": _mib(memory), "driver": driver})
    return found


def parse_cuda_version(header: str) -> str | None:
    """The CUDA version the driver supports, from the header of a plain ``nvidia-smi``."""
    match = re.search(r"CUDA Version:\s*([\d.]+)", header)
    return match.group(1) if match else None


def _nvidia_smi(*arguments: str) -> str | None:
    try:
        done = subprocess.run(["nvidia-smi", *arguments], capture_output=True, text=True,
                              timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def gpus() -> tuple[list[dict], str | None]:
    """GPUs reported by nvidia-smi, and the CUDA version the driver supports; none without nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return [], None
    listing = _nvidia_smi(*GPU_QUERY)
    if listing is None:
        return [], None
    return parse_gpu_query(listing), parse_cuda_version(_nvidia_smi() or "")


def gpu_device_nodes(dev: str = "/dev") -> list[str]:
    """Every NVIDIA entry under ``dev`` (``nvidia0``..., ``nvidiactl``, ``nvidia-uvm``, ``nvidia-caps``...); see
    regctl.sandbox.mounts.gpu_devices for exactly what a GPU evaluation's sandbox gets."""
    return sorted(glob.glob(os.path.join(glob.escape(dev), "nvidia*")))


# -- the framework, as the evaluation's Python sees it ------------------------------------------------------------

def evaluation_python(env: Mapping[str, str]) -> str | None:
    """The interpreter ``python`` names in the evaluation's environment (its VIRTUAL_ENV first, then its PATH)."""
    if env.get("VIRTUAL_ENV"):
        for name in ("python", "python3"):
            candidate = os.path.join(env["VIRTUAL_ENV"], "bin", name)
            if os.access(candidate, os.X_OK):
                return candidate
    path = env.get("PATH", os.defpath)
    return shutil.which("python", path=path) or shutil.which("python3", path=path)


def parse_probe(output: str) -> dict:
    """The probe's last line of JSON; anything else means the framework could not be inspected."""
    lines = [line for line in output.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise ValueError("the probe printed no settings")
    found = json.loads(lines[-1])
    if not isinstance(found, dict) or "torch" not in found:
        raise ValueError("the probe printed no settings")
    return found


def frameworks(env: Mapping[str, str], accelerator: str = "cpu", python: str | None = None) -> dict:
    """PyTorch's version and determinism settings (cuDNN version, ``cudnn.deterministic``/``benchmark``, TF32
    for matmul and cuDNN, ``CUBLAS_WORKSPACE_CONFIG``) in the evaluation's Python, with the environment variables
    the evaluation gets; ``{"torch": None}`` where that Python has no PyTorch. regctl never imports PyTorch
    itself: a small probe runs in that Python."""
    from regctl.sandbox.mounts import clean_environment  # the sandbox imports this module

    python = python or evaluation_python(env)
    if not python:
        return {"torch": None}
    with tempfile.TemporaryDirectory(prefix="regctl-probe-") as scratch:
        try:
            done = subprocess.run([python, "-c", TORCH_PROBE], capture_output=True, text=True,
                                  timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL, cwd=scratch,
                                  env=clean_environment(dict(env), home=scratch, tmpdir=scratch,
                                                        accelerator=accelerator))
        except (OSError, subprocess.TimeoutExpired) as err:
            return {"torch": {"error": f"the settings could not be read ({err})"}}
    try:
        return parse_probe(done.stdout)
    except ValueError as err:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:300]
        return {"torch": {"error": f"{err} ({reason})"}}


def packages() -> dict[str, str]:
    present = {}
    for name in KEY_PACKAGES:
        try:
            present[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return present


def capture(accelerator_requested: str, env: Mapping[str, str] | None = None) -> dict:
    """The report's environment. ``env`` is the environment the evaluation starts from (by default this
    process's): its Python is the one whose framework settings are recorded."""
    found, cuda = gpus()
    return {
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": packages(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib(),
        "gpus": found,
        "driver": found[0]["driver"] if found else None,
        "cuda": cuda,
        "frameworks": frameworks(os.environ if env is None else env, accelerator_requested),
        "accelerator_requested": accelerator_requested,
        "accelerator_used": "gpu" if found and accelerator_requested == "gpu" else "cpu",
    }
