"""Running untrusted evaluation code.

The sandbox (bubblewrap) is built by allowlist: the system's read-only runtime, the few /etc files programs
need, the Python environment that runs the evaluation, the downloaded files read-only, the run's working folder
read-write, and fresh, size-bounded tmpfs folders for /tmp, /dev/shm and $HOME. Nothing else of the machine is
visible, no capability is kept, there is no network, and the environment variables are an allowlist too.

Limits hold for the whole process tree: memory and process count through a cgroup (v2, or the v1 ``memory``
and ``pids`` controllers) where one can be made, else through a watchdog that sums the tree's memory and counts
its processes; wall time through a timer; output size through the pipe readers. Never an address-space limit
(it breaks CUDA) and never ``preexec_fn`` (unsafe in a threaded server). Each run records which mechanism
enforced each limit."""

import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from client.environment import gpu_device_nodes
from client.errors import EvaluationFailed

OUTPUT_TAIL_BYTES = 32 * 1024
DEFAULT_MEMORY_MB = 8192
DEFAULT_MAX_PROCESSES = 512
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
POLL_S = 0.05
WATCHDOG_POLL_S = 0.1
LIMITS_VARIABLE = "REGCTL_SANDBOX_LIMITS"
LIMIT_MECHANISMS = ("auto", "cgroup", "watchdog")

#: the fresh, empty home folder evaluation code sees
SANDBOX_HOME = "/home/sandbox"
#: environment variables handed to evaluation code (by exact name, then by prefix); everything else is dropped
ENVIRONMENT_NAMES = frozenset({"PATH", "LANG", "TZ", "TERM", "VIRTUAL_ENV", "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES"})
ENVIRONMENT_PREFIXES = ("LC_", "OMP_", "MKL_", "OPENBLAS_", "NVIDIA_")
#: names that are never handed over, even where the allowlist would let them through (a second line of defence)
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY|AUTH|COOKIE|SESSION|_URL$", re.I)

#: the system's read-only runtime; on a merged-/usr system most of these are symbolic links into /usr
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: what programs read under /etc (loader cache, certificates, users and groups, time zone); never the rest
ETC_PATHS = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl/certs", "ssl/openssl.cnf", "ca-certificates",
             "pki/tls/certs", "pki/ca-trust/extracted", "passwd", "group", "nsswitch.conf", "host.conf", "hosts",
             "gai.conf", "localtime", "timezone", "os-release", "alternatives", "mime.types", "protocols",
             "services", "fonts")
#: extra read-only views a GPU evaluation needs besides the device nodes (PCI topology, NUMA and CPU layout)
GPU_SYS_PATHS = ("/sys/bus/pci", "/sys/devices/system", "/sys/module/nvidia", "/sys/module/nvidia_uvm")
#: parts of /proc that must stay read-only: uid 0 in the sandbox could otherwise change kernel settings
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger")


class SandboxUnavailable(EvaluationFailed):
    """The sandbox or its limits cannot be set up as specified: nothing runs (exit 3)."""

    def __init__(self, message: str):
        super().__init__(message, code="NO_SANDBOX")


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


@dataclass(frozen=True)
class Limits:
    timeout_s: int
    memory_mb: int = DEFAULT_MEMORY_MB
    max_processes: int = DEFAULT_MAX_PROCESSES
    max_output_bytes: int = MAX_OUTPUT_BYTES

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024

    def tmpfs_bytes(self, share: float) -> int:
        """tmpfs pages are memory the watchdog does not see: together the tmpfs folders get at most the limit."""
        return max(8 << 20, int(self.memory_bytes * share))


# -- environment -------------------------------------------------------------------------------------------------

def clean_environment(env: dict[str, str], home: str = SANDBOX_HOME, tmpdir: str = "/tmp") -> dict[str, str]:
    """The allowlisted part of the verifier's environment, with a fresh HOME and TMPDIR."""
    kept = {key: value for key, value in env.items()
            if (key in ENVIRONMENT_NAMES or key.startswith(ENVIRONMENT_PREFIXES)) and not SECRET_NAME.search(key)}
    return {**kept, "HOME": home, "TMPDIR": tmpdir, "XDG_CONFIG_HOME": f"{home}/.config",
            "XDG_CACHE_HOME": f"{home}/.cache", "XDG_DATA_HOME": f"{home}/.local/share"}


def render_command(command: str, files: Path, metrics: Path, seed: int) -> str:
    """Fill the placeholders with shell-quoted values (the command runs under ``sh -c``)."""
    return command.format(files=shlex.quote(str(files)), metrics=shlex.quote(str(metrics)), seed=int(seed))


# -- what the sandbox sees ---------------------------------------------------------------------------------------

def bubblewrap_path() -> str | None:
    """REGCTL_BWRAP names the bubblewrap binary; by default it is looked up on PATH."""
    return os.environ.get("REGCTL_BWRAP") or shutil.which("bwrap")


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _looks_like_python_environment(folder: Path) -> bool:
    return ((folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()
            or any((folder / "bin").glob("python*")))


def _venv_base(venv: Path) -> list[Path]:
    """The installation a virtualenv was made from: its pyvenv.cfg ``home`` and where its interpreter points."""
    bases = []
    try:
        for line in (venv / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                home = Path(value.strip())
                bases.append(home.parent if home.name == "bin" else home)
    except OSError:
        pass
    for interpreter in sorted((venv / "bin").glob("python*")):
        target = interpreter.resolve()
        if target.parent.name == "bin":
            bases.append(target.parent.parent)
    return bases


def python_environments(env: dict[str, str]) -> list[Path]:
    """The Python environments the evaluation may run in, to be bound read-only: the virtualenv named by
    VIRTUAL_ENV, the one running regctl, and the installations they were made from. Only folders that look like
    a Python environment; never the root, a folder holding the verifier's home, or what /usr already covers."""
    roots = [Path(p) for p in (env.get("VIRTUAL_ENV"), sys.prefix, sys.exec_prefix, sys.base_prefix,
                               sys.base_exec_prefix) if p]
    roots.append(Path(sys.executable).resolve().parent.parent)
    candidates = [*roots, *(base for root in roots for base in _venv_base(root))]
    home = Path.home().resolve()
    found: list[Path] = []
    for candidate in candidates:
        path = candidate.resolve()
        if (not path.is_dir() or path == Path("/") or _is_within(home, path) or _is_within(path, Path("/usr"))
                or not _looks_like_python_environment(path)):
            continue
        found.append(path)
    unique = list(dict.fromkeys(found))
    return [path for path in unique if not any(other != path and _is_within(path, other) for other in unique)]


def _system_arguments() -> list[str]:
    argv: list[str] = []
    for name in SYSTEM_PATHS + tuple(f"/etc/{relative}" for relative in ETC_PATHS):
        path = Path(name)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), name]
        elif path.exists():
            argv += ["--ro-bind", name, name]
    return argv


def _gpu_arguments(nodes: list[str]) -> list[str]:
    argv: list[str] = []
    for node in nodes:
        argv += ["--dev-bind", node, node]
    for name in GPU_SYS_PATHS:
        argv += ["--ro-bind-try", name, name]
    for name in sorted(glob.glob("/sys/devices/pci*")):
        argv += ["--ro-bind", name, name]
    return argv


def sandbox_arguments(workdir: Path, files: Path, env: dict[str, str], limits: Limits, accelerator: str = "cpu",
                      gpu_nodes: list[str] | None = None) -> list[str]:
    """bubblewrap's options: mounts (in order: system, /dev and /proc, fresh tmpfs folders, then what is bound
    under them), namespaces and capabilities. The caller appends the command. A GPU evaluation also gets the
    NVIDIA device nodes (``gpu_nodes``, by default those of this machine); its libraries live under /usr."""
    argv = [*_system_arguments(), "--dev", "/dev", "--proc", "/proc"]
    for name in PROC_READ_ONLY:
        argv += ["--ro-bind-try", name, name]
    argv += ["--size", str(limits.tmpfs_bytes(0.5)), "--tmpfs", "/tmp",
             "--size", str(limits.tmpfs_bytes(0.25)), "--tmpfs", "/dev/shm",
             "--size", str(limits.tmpfs_bytes(0.25)), "--tmpfs", SANDBOX_HOME]
    for environment in python_environments(env):
        argv += ["--ro-bind", str(environment), str(environment)]
    if accelerator == "gpu":
        argv += _gpu_arguments(gpu_device_nodes() if gpu_nodes is None else gpu_nodes)
    argv += ["--ro-bind", str(files), str(files), "--bind", str(workdir), str(workdir),
             "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--hostname", "sandbox", "--cap-drop", "ALL", "--die-with-parent", "--new-session",
             "--chdir", str(workdir)]
    return argv


def probe_bubblewrap(env: dict[str, str]) -> str | None:
    """Build the sandbox as a run would and run ``true`` in it; returns why that failed, or None."""
    path = bubblewrap_path()
    if not path:
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="regctl-probe-") as scratch:
        workdir, files = Path(scratch, "run"), Path(scratch, "files")
        workdir.mkdir()
        files.mkdir()
        argv = [path, *sandbox_arguments(workdir, files, env, Limits(timeout_s=20)), "/bin/sh", "-c", "true"]
        try:
            probe = subprocess.run(argv, capture_output=True, timeout=20, env=clean_environment(env),
                                   stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bubblewrap could not be started ({err})"
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"bubblewrap failed to build the sandbox ({reason[-1] if reason else f'exit {probe.returncode}'})"
    return None


# -- limits on the whole process tree ----------------------------------------------------------------------------

def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _counter(path: Path, name: str) -> int:
    """A ``name value`` line of a cgroup events file."""
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return 0


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _kill_pids(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup per controller from /proc/self/cgroup (``""`` is the v2 unified hierarchy)."""
    own = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path
    return own


def _cgroup_mounts() -> dict[str, Path]:
    """Mount point per v1 controller, and ``""`` for a cgroup2 mount."""
    mounts: dict[str, Path] = {}
    for line in _read(Path("/proc/self/mounts")).splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        if parts[2] == "cgroup2":
            mounts.setdefault("", Path(parts[1]))
        elif parts[2] == "cgroup":
            for option in parts[3].split(","):
                mounts.setdefault(option, Path(parts[1]))
    return mounts


class Cgroup:
    """The cgroup one run is held in: made under this process's own cgroup for each controller, removed at the
    end. ``version`` is ``cgroup-v2`` or ``cgroup-v1``; ``controls`` the limits it enforces (memory, processes)."""

    def __init__(self, version: str, folders: dict[str, Path]):
        self.version = version
        self.folders = folders  # limit ("memory", "processes") -> its folder (the same folder twice on v2)

    @property
    def controls(self) -> set[str]:
        return set(self.folders)

    @property
    def procs_files(self) -> list[Path]:
        return list(dict.fromkeys(folder / "cgroup.procs" for folder in self.folders.values()))

    @classmethod
    def make(cls, limits: Limits) -> "Cgroup | None":
        """A cgroup with the memory and process limits set, or None where this process may not make one."""
        mounts, own, name = _cgroup_mounts(), _own_cgroups(), f"regctl-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if "" in mounts and "" in own and "memory" not in mounts:
            return cls._make_v2(mounts[""] / own[""].lstrip("/"), name, limits)
        folders = {}
        for limit, controller, setup in (("memory", "memory", cls._limit_memory_v1),
                                         ("processes", "pids", cls._limit_pids)):
            if controller in mounts and controller in own:
                folder = mounts[controller] / own[controller].lstrip("/") / name
                try:
                    folder.mkdir()
                except OSError:
                    continue
                try:
                    setup(folder, limits)
                    folders[limit] = folder
                except OSError:
                    _remove_folder(folder)
        return cls("cgroup-v1", folders) if folders else None

    @staticmethod
    def _limit_memory_v1(folder: Path, limits: Limits) -> None:
        _write(folder / "memory.limit_in_bytes", str(limits.memory_bytes))
        if (folder / "memory.memsw.limit_in_bytes").exists():  # swap must not let the tree escape the limit
            _write(folder / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        else:
            try:
                _write(folder / "memory.swappiness", "0")
            except OSError:
                pass

    @staticmethod
    def _limit_pids(folder: Path, limits: Limits) -> None:
        _write(folder / "pids.max", str(limits.max_processes))

    @classmethod
    def _make_v2(cls, parent: Path, name: str, limits: Limits) -> "Cgroup | None":
        try:
            enabled = _read(parent / "cgroup.subtree_control").split()
            if not {"memory", "pids"} <= set(enabled):
                _write(parent / "cgroup.subtree_control", "+memory +pids")
            folder = parent / name
            folder.mkdir()
        except OSError:
            return None
        try:
            _write(folder / "memory.max", str(limits.memory_bytes))
            if (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", "0")
            if (folder / "memory.oom.group").exists():
                _write(folder / "memory.oom.group", "1")
            _write(folder / "pids.max", str(limits.max_processes))
        except OSError:
            _remove_folder(folder)
            return None
        return cls("cgroup-v2", {"memory": folder, "processes": folder})

    def breached(self) -> str | None:
        """``memory`` when the kernel killed a process of the tree for memory, ``processes`` when a fork or a
        new thread was refused at the process limit."""
        memory = self.folders.get("memory")
        if memory is not None:
            if self.version == "cgroup-v2":
                if _counter(memory / "memory.events", "oom_kill") or _counter(memory / "memory.events",
                                                                              "oom_group_kill"):
                    return "memory"
            elif _counter(memory / "memory.oom_control", "oom_kill") or _counter(memory / "memory.oom_control",
                                                                                 "under_oom"):
                return "memory"
        pids = self.folders.get("processes")
        if pids is not None and _counter(pids / "pids.events", "max"):
            return "processes"
        return None

    def peak_memory_bytes(self) -> int | None:
        memory = self.folders.get("memory")
        if memory is None:
            return None
        value = _read(memory / ("memory.peak" if self.version == "cgroup-v2" else "memory.max_usage_in_bytes"))
        return int(value) if value.strip().isdigit() else None

    def pids(self) -> set[int]:
        return {int(pid) for procs in self.procs_files for pid in _read(procs).split() if pid.isdigit()}

    def kill(self) -> None:
        """Kill every process in the cgroup, again until none is left (a fork may race the first pass)."""
        kill_file = next(iter(self.folders.values())) / "cgroup.kill"
        if self.version == "cgroup-v2" and kill_file.exists():
            try:
                _write(kill_file, "1")
            except OSError:
                pass
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            _kill_pids(pids)
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill()
        for folder in dict.fromkeys(self.folders.values()):
            _remove_folder(folder)


def _remove_folder(folder: Path) -> None:
    """rmdir a cgroup; its last processes may take a moment to leave it."""
    for _ in range(200):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


class Watchdog:
    """Where no cgroup can be made: every WATCHDOG_POLL_S, walk the process tree under ``root`` (through
    /proc), sum its proportional memory (Pss) and count its processes and threads; report the limit crossed.
    The sandbox's own pid namespace keeps orphans in the tree (they are re-parented to its init)."""

    def __init__(self, root: int, limits: Limits, controls: set[str]):
        self.root, self.limits, self.controls = root, limits, controls
        self.peak_bytes = 0
        self.next_check = 0.0

    def tree(self) -> dict[int, int]:
        """pid -> thread count of ``root`` and all its living descendants."""
        parents: dict[int, list[int]] = {}
        threads: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            pid = int(entry.name)
            parents.setdefault(int(fields[1]), []).append(pid)
            if fields[0] != b"Z":  # a zombie holds no memory and is gone once reaped
                threads[pid] = int(fields[17])
        found, queue = {}, [self.root]
        while queue:
            pid = queue.pop()
            if pid in threads and pid not in found:
                found[pid] = threads[pid]
                queue.extend(parents.get(pid, ()))
        return found

    @staticmethod
    def memory_bytes(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                for line in handle:
                    if line.startswith(b"Pss:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            return 0

    def breached(self) -> str | None:
        now = time.monotonic()
        if now < self.next_check:
            return None
        self.next_check = now + WATCHDOG_POLL_S
        tree = self.tree()
        if "processes" in self.controls and sum(tree.values()) > self.limits.max_processes:
            return "processes"
        if "memory" in self.controls:
            used = sum(self.memory_bytes(pid) for pid in tree)
            self.peak_bytes = max(self.peak_bytes, used)
            if used > self.limits.memory_bytes:
                return "memory"
        return None

    def kill(self) -> None:
        for _ in range(100):
            tree = self.tree()
            if not tree:
                return
            _kill_pids(tree)
            time.sleep(0.01)


def limit_mechanism() -> str:
    """REGCTL_SANDBOX_LIMITS (auto, cgroup or watchdog), read at each run."""
    chosen = os.environ.get(LIMITS_VARIABLE, "auto").strip().lower() or "auto"
    if chosen not in LIMIT_MECHANISMS:
        raise SandboxUnavailable(f"{LIMITS_VARIABLE}={chosen!r} is not one of {', '.join(LIMIT_MECHANISMS)}")
    return chosen


def make_cgroup(limits: Limits) -> Cgroup | None:
    chosen = limit_mechanism()
    if chosen == "watchdog":
        return None
    cgroup = Cgroup.make(limits)
    if chosen == "cgroup" and (cgroup is None or cgroup.controls != {"memory", "processes"}):
        if cgroup is not None:
            cgroup.remove()
        raise SandboxUnavailable(f"{LIMITS_VARIABLE}=cgroup, but no cgroup with both a memory and a process "
                                 "limit can be made here (run as root, or in a delegated cgroup)")
    return cgroup


#: the shell that enters the cgroup and then becomes the sandbox (instead of a preexec_fn)
JOIN_CGROUP = ('while [ "$1" != -- ]; do echo $$ > "$1" || { echo "regctl: cannot enter the cgroup $1" >&2; '
               'exit 125; }; shift; done; shift; exec "$@"')


def _in_cgroup(argv: list[str], cgroup: Cgroup | None) -> list[str]:
    if cgroup is None:
        return argv
    return ["/bin/sh", "-c", JOIN_CGROUP, "regctl-limits", *map(str, cgroup.procs_files), "--", *argv]


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
              accelerator: str = "cpu") -> list[str]:
        if not self.sandboxed:
            return ["/bin/sh", "-c", shell_command]
        return [bubblewrap_path(), *sandbox_arguments(workdir, files, env, limits, accelerator),
                "/bin/sh", "-c", shell_command]

    def _environment(self, env: dict[str, str], workdir: Path) -> dict[str, str]:
        if self.sandboxed:
            return clean_environment(env)
        home, tmp = workdir / "home", workdir / "tmp"
        home.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(parents=True, exist_ok=True)
        return clean_environment(env, home=str(home), tmpdir=str(tmp))

    def run(self, shell_command: str, workdir: Path, files: Path, timeout_s: int, memory_mb: int | None,
            env: dict[str, str], max_processes: int | None = None, accelerator: str = "cpu",
            max_output_bytes: int = MAX_OUTPUT_BYTES) -> RunResult:
        workdir, files = workdir.resolve(), files.resolve()
        limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb or DEFAULT_MEMORY_MB,
                        max_processes=max_processes or DEFAULT_MAX_PROCESSES, max_output_bytes=max_output_bytes)
        argv = self._argv(shell_command, workdir, files, env, limits, accelerator)
        cgroup = make_cgroup(limits)
        try:
            return _Supervised(argv, self._environment(env, workdir), workdir, limits, cgroup,
                               self.sandboxed).run()
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
