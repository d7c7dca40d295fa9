"""What the sandbox sees: the environment allowlist, the Python environments and bubblewrap's mounts."""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from regctl.environment import gpu_device_nodes
from regctl.sandbox.limits import Limits

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
