"""Running one evaluation command: its supervision under the limits, and the tails of its output."""

import os
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from regctl.gpu_energy import EnergyMeter
from regctl.sandbox.limits import (
    DEFAULT_MAX_PROCESSES,
    DEFAULT_MEMORY_MB,
    MAX_OUTPUT_BYTES,
    Cgroup,
    Limits,
    SandboxUnavailable,
    Watchdog,
    _in_cgroup,
    make_cgroup,
)
from regctl.sandbox.mounts import (
    GpuDevices,
    bubblewrap_path,
    clean_environment,
    gpu_devices,
    probe_bubblewrap,
    sandbox_arguments,
)

OUTPUT_TAIL_BYTES = 32 * 1024
POLL_S = 0.05


@dataclass
class RunResult:
    exit_code: int | None
    timed_out: bool
    wall_time_s: float
    stdout_tail: str
    stderr_tail: str
    limits: dict = field(default_factory=dict)
    #: why the run was killed before it ended by itself, as a sentence (None when it was not)
    killed: str | None = None
    #: joules its GPUs used, from the driver (None: no GPU run, or no reading; see regctl.gpu_energy)
    gpu_energy_j: float | None = None


# -- running -----------------------------------------------------------------------------------------------------

class Runner:
    """Runs one evaluation command. ``sandboxed=False`` runs it without bubblewrap (only with --no-sandbox);
    the limits hold either way."""

    def __init__(self, sandboxed: bool = True, env: dict[str, str] | None = None):
        if sandboxed:
            reason = probe_bubblewrap(dict(os.environ if env is None else env))
            if reason:
                raise SandboxUnavailable(f"no sandbox is available: {reason}. Install bubblewrap (Debian/Ubuntu: "
                                         "apt-get install bubblewrap), or pass --no-sandbox to run the author's "
                                         "code unconfined")
        self.sandboxed = sandboxed
        self.kind = "bubblewrap" if sandboxed else "none"

    def _argv(self, shell_command: str, workdir: Path, files: Path, env: dict[str, str], limits: Limits,
              accelerator: str = "cpu", gpu: GpuDevices | None = None) -> list[str]:
        if not self.sandboxed:
            return ["/bin/sh", "-c", shell_command]
        return [bubblewrap_path(), *sandbox_arguments(workdir, files, env, limits, accelerator, gpu),
                "/bin/sh", "-c", shell_command]

    def _environment(self, env: dict[str, str], workdir: Path, accelerator: str = "cpu") -> dict[str, str]:
        if self.sandboxed:
            return clean_environment(env, accelerator=accelerator)
        home, tmp = workdir / "home", workdir / "tmp"
        home.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(parents=True, exist_ok=True)
        return clean_environment(env, home=str(home), tmpdir=str(tmp), accelerator=accelerator)

    def _gpu(self, accelerator: str, gpu: GpuDevices | None) -> GpuDevices | None:
        """The NVIDIA driver a sandboxed GPU evaluation gets; without a GPU here nothing runs (exit 3)."""
        if accelerator != "gpu" or not self.sandboxed:
            return None
        gpu = gpu_devices() if gpu is None else gpu
        if not gpu:
            raise SandboxUnavailable("the evaluation needs a GPU and this machine has none (no /dev/nvidia0 ...); "
                                     "it was not run")
        return gpu

    def run(self, shell_command: str, workdir: Path, files: Path, timeout_s: int, memory_mb: int | None,
            env: dict[str, str], max_processes: int | None = None, accelerator: str = "cpu",
            max_output_bytes: int = MAX_OUTPUT_BYTES, gpu: GpuDevices | None = None) -> RunResult:
        """Run under the limits. A GPU evaluation (``accelerator="gpu"``) gets the NVIDIA driver (``gpu``, by
        default this machine's) in its sandbox; its memory limit is the same cgroup or watchdog on the process
        tree as any other run's, never an address-space limit (CUDA reserves far more address space than it
        uses, and would not start). A GPU run's energy is read from the driver just before and after it."""
        workdir, files = workdir.resolve(), files.resolve()
        limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb or DEFAULT_MEMORY_MB,
                        max_processes=max_processes or DEFAULT_MAX_PROCESSES, max_output_bytes=max_output_bytes)
        argv = self._argv(shell_command, workdir, files, env, limits, accelerator, self._gpu(accelerator, gpu))
        cgroup = make_cgroup(limits)
        try:
            meter = EnergyMeter(env) if accelerator == "gpu" else None
            result = _Supervised(argv, self._environment(env, workdir, accelerator), workdir, limits, cgroup,
                                 self.sandboxed).run()
            result.gpu_energy_j = meter.stop() if meter else None
            return result
        finally:
            if cgroup is not None:
                cgroup.remove()


class _Supervised:
    """One process tree under its limits: started, watched until it ends or crosses a limit, killed if so."""

    def __init__(self, argv: list[str], env: dict[str, str], workdir: Path, limits: Limits, cgroup: Cgroup | None,
                 sandboxed: bool):
        self.argv, self.env, self.workdir, self.limits = argv, env, workdir, limits
        self.cgroup, self.sandboxed = cgroup, sandboxed
        self.watchdog: Watchdog | None = None
        self.output = _OutputBudget(limits.max_output_bytes)

    def run(self) -> RunResult:
        started = time.monotonic()
        process = subprocess.Popen(_in_cgroup(self.argv, self.cgroup), cwd=self.workdir, env=self.env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        tails = [_Tail(process.stdout, self.output), _Tail(process.stderr, self.output)]
        watched = {"memory", "processes"} - (self.cgroup.controls if self.cgroup else set())
        self.watchdog = Watchdog(process.pid, self.limits, watched) if watched else None
        timed_out, breach = self._watch(process, started)
        if timed_out or breach:
            self._kill(process)
        process.wait()
        if not (timed_out or breach) and self.cgroup is not None:
            breach = self.cgroup.breached()  # e.g. the kernel killed the only process for memory
        if self.cgroup is not None:
            self.cgroup.kill()  # whatever the tree left behind
        for tail in tails:
            tail.join()
        return RunResult(exit_code=None if timed_out else process.returncode, timed_out=timed_out,
                         wall_time_s=round(time.monotonic() - started, 3), stdout_tail=tails[0].text(),
                         stderr_tail=tails[1].text(), limits=self._record(breach), killed=self._reason(breach))

    def _watch(self, process: subprocess.Popen, started: float) -> tuple[bool, str | None]:
        deadline = started + self.limits.timeout_s
        while True:
            try:
                process.wait(timeout=min(POLL_S, max(0.0, deadline - time.monotonic())))
                return False, None
            except subprocess.TimeoutExpired:
                pass
            breach = self._breached()
            if breach:
                return False, breach
            if time.monotonic() >= deadline:
                return True, None

    def _breached(self) -> str | None:
        if self.output.exceeded.is_set():
            return "output"
        if self.cgroup is not None and (breach := self.cgroup.breached()):
            return breach
        return self.watchdog.breached() if self.watchdog else None

    def _kill(self, process: subprocess.Popen) -> None:
        """Kill bubblewrap (its pid namespace dies with it), then every process left in the tree."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.watchdog is not None:
            self.watchdog.kill()

    def _mechanism(self, limit: str) -> str:
        return self.cgroup.version if self.cgroup and limit in self.cgroup.controls else "watchdog"

    def _record(self, breach: str | None) -> dict:
        peak = self.cgroup.peak_memory_bytes() if self.cgroup and "memory" in self.cgroup.controls else (
            self.watchdog.peak_bytes if self.watchdog else None)
        limits = {
            "memory_mb": {"value": self.limits.memory_mb, "enforced_by": self._mechanism("memory"),
                          "peak_mb": None if peak is None else round(peak / 2**20, 1)},
            "processes": {"value": self.limits.max_processes, "enforced_by": self._mechanism("processes")},
            "timeout_s": {"value": self.limits.timeout_s, "enforced_by": "timer"},
            "output_bytes": {"value": self.limits.max_output_bytes, "enforced_by": "pipe reader"},
            "network": ({"value": "none", "enforced_by": "bubblewrap --unshare-net"} if self.sandboxed
                        else {"value": "open", "enforced_by": "none"}),
        }
        if self.sandboxed:
            limits["tmp_mb"] = {"value": self.limits.tmpfs_bytes(0.5) >> 20, "enforced_by": "bubblewrap tmpfs size"}
        if breach:
            limits[{"memory": "memory_mb", "processes": "processes", "output": "output_bytes"}[breach]]["hit"] = True
        return limits

    def _reason(self, breach: str | None) -> str | None:
        return {
            None: None,
            "memory": f"killed: the process tree exceeded the memory limit of {self.limits.memory_mb} MB",
            "processes": f"killed: the process tree hit the process limit of {self.limits.max_processes} "
                         "(processes and threads together)",
            "output": f"killed: stdout and stderr together exceeded the output limit of "
                      f"{self.limits.max_output_bytes} bytes",
        }[breach]


class _OutputBudget:
    """Bytes written to stdout and stderr together; ``exceeded`` is set once they pass the limit."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self.lock = threading.Lock()
        self.exceeded = threading.Event()

    def add(self, size: int) -> None:
        with self.lock:
            self.used += size
            if self.used > self.limit:
                self.exceeded.set()


class _Tail(threading.Thread):
    """Reads a pipe to its end, keeping only the last OUTPUT_TAIL_BYTES (memory stays bounded)."""

    def __init__(self, pipe, budget: _OutputBudget | None = None):
        super().__init__(daemon=True)
        self.pipe = pipe
        self.budget = budget
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.start()

    def run(self):
        while chunk := self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536):
            if self.budget is not None:
                self.budget.add(len(chunk))
            self.chunks.append(chunk)
            self.size += len(chunk)
            while self.size - len(self.chunks[0]) >= OUTPUT_TAIL_BYTES:
                self.size -= len(self.chunks.popleft())
        self.pipe.close()

    def text(self) -> str:
        data = b"".join(self.chunks)[-OUTPUT_TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")
