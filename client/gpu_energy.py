"""The energy a GPU evaluation used, read from the NVIDIA driver before and after the run.

``nvidia-smi --query-gpu=index,energy.consumption --format=csv,noheader,nounits`` prints one line per GPU, e.g.
``0, 123456789``: the GPU's index and the energy it has used since the driver loaded, in millijoules (``[N/A]`` on
GPUs that do not report it). A run's ``gpu_energy_j`` is the sum, over the GPUs it was given, of what each counter
moved during the run, in joules. It is the GPU's whole energy, whatever else ran on it meanwhile; and it is absent,
never guessed, when there is no nvidia-smi, when a GPU does not report energy, or when the readings do not fit
together (a GPU missing from one of them, a counter that went backwards because the driver was reloaded)."""

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping

log = logging.getLogger(__name__)

ENERGY_QUERY = ["--query-gpu=index,energy.consumption", "--format=csv,noheader,nounits"]
#: seconds nvidia-smi may take (a wedged driver can hang it)
NVIDIA_SMI_TIMEOUT_S = 30

#: one reading: each GPU's index and its energy counter in millijoules (None: the GPU does not report it)
Reading = dict[int, float | None]


def parse_energy(output: str) -> Reading:
    """Each GPU's counter in nvidia-smi's CSV output (see the module). ``[N/A]`` is kept as None; lines that are
    not ``index, number`` (a warning, an empty line) are skipped."""
    reading: Reading = {}
    for line in output.splitlines():
        index, comma, energy = line.partition(",")
        if not comma:
            continue
        try:
            gpu = int(index.strip())
        except ValueError:
            continue
        if gpu < 0:
            continue
        try:
            value = float(energy.strip())
        except ValueError:
            reading[gpu] = None  # "[N/A]", "[Not Supported]"
            continue
        reading[gpu] = value if value >= 0 and value != float("inf") else None
    return reading


def read_energy(executable: str = "nvidia-smi") -> Reading | None:
    """This machine's GPU energy counters, by running nvidia-smi (looked up on PATH); None when it is missing,
    fails or lists no GPU."""
    path = shutil.which(executable, path=os.environ.get("PATH", os.defpath))
    if path is None:
        return None
    try:
        result = subprocess.run([path, *ENERGY_QUERY], capture_output=True, text=True,
                                timeout=NVIDIA_SMI_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("nvidia-smi could not be run to read the GPU energy: %s", err)
        return None
    if result.returncode != 0:
        log.warning("nvidia-smi failed reading the GPU energy (exit %s): %s", result.returncode,
                    result.stderr.strip()[:500])
        return None
    return parse_energy(result.stdout) or None


def given_gpus(env: Mapping[str, str]) -> set[int] | None:
    """The indices of the GPUs a run is given: those CUDA_VISIBLE_DEVICES lists by index, every GPU when it is
    unset. None when they cannot be told by index (UUIDs, MIG instances): no energy is then recorded."""
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return set()  # all of them: see energy_used_j
    gpus: set[int] = set()
    for entry in visible.split(","):
        entry = entry.strip()
        if not entry:
            continue
        if not entry.isdigit():
            if entry.startswith("-"):  # CUDA stops at the first invalid entry
                break
            return None
        gpus.add(int(entry))
    return gpus or None


def energy_used_j(before: Reading | None, after: Reading | None, gpus: set[int] | None = None) -> float | None:
    """Joules the GPUs used between two readings: ``gpus`` (an empty set: every GPU of the first reading). None
    unless each of them has a number in both readings that did not go backwards."""
    if not before or not after or gpus is None:
        return None
    chosen = gpus or set(before)
    total_mj = 0.0
    for gpu in chosen:
        start, end = before.get(gpu), after.get(gpu)
        if start is None or end is None or end < start:
            return None
        total_mj += end - start
    return round(total_mj / 1000, 3)


class EnergyMeter:
    """Reads the counters when made and again at ``stop``; ``stop`` answers the joules used in between, or None
    (see the module)."""

    def __init__(self, env: Mapping[str, str], executable: str = "nvidia-smi"):
        self.executable = executable
        self.gpus = given_gpus(env)
        self.before = read_energy(executable) if self.gpus is not None else None

    def stop(self) -> float | None:
        if self.before is None:
            return None
        return energy_used_j(self.before, read_energy(self.executable), self.gpus)

