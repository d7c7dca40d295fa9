"""Limits on the whole process tree of a run: a cgroup where one can be made, else a watchdog."""

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from regctl.errors import EvaluationFailed

DEFAULT_MEMORY_MB = 8192
DEFAULT_MAX_PROCESSES = 512
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
WATCHDOG_POLL_S = 0.1
LIMITS_VARIABLE = "REGCTL_SANDBOX_LIMITS"
LIMIT_MECHANISMS = ("auto", "cgroup", "watchdog")


class SandboxUnavailable(EvaluationFailed):
    """The sandbox or its limits cannot be set up as specified: nothing runs (exit 3)."""

    def __init__(self, message: str):
        super().__init__(message, code="NO_SANDBOX")


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
