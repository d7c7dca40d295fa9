"""What the sandbox sees: the environment allowlist, the Python environments and bubblewrap's mounts."""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from regctl.sandbox.limits import Limits

#: the fresh, empty home folder evaluation code sees
SANDBOX_HOME = "/home/sandbox"
#: environment variables handed to evaluation code (by exact name, then by prefix); everything else is dropped
ENVIRONMENT_NAMES = frozenset({"PATH", "LANG", "TZ", "TERM", "VIRTUAL_ENV", "PYTHONHASHSEED"})
ENVIRONMENT_PREFIXES = ("LC_", "OMP_", "MKL_", "OPENBLAS_")
#: handed over to a GPU evaluation only: which GPUs it sees, the NVIDIA runtime's settings, cuBLAS determinism
GPU_ENVIRONMENT_NAMES = frozenset({"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUBLAS_WORKSPACE_CONFIG"})
GPU_ENVIRONMENT_PREFIXES = ("NVIDIA_",)
#: names that are never handed over, even where the allowlist would let them through (a second line of defence)
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY|AUTH|COOKIE|SESSION|_URL$", re.I)

#: the system's read-only runtime; on a merged-/usr system most of these are symbolic links into /usr
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: what programs read under /etc (loader cache, certificates, users and groups, time zone); never the rest
ETC_PATHS = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl/certs", "ssl/openssl.cnf", "ca-certificates",
             "pki/tls/certs", "pki/ca-trust/extracted", "passwd", "group", "nsswitch.conf", "host.conf", "hosts",
             "gai.conf", "localtime", "timezone", "os-release", "alternatives", "mime.types", "protocols",
             "services", "fonts")
#: the NVIDIA device nodes CUDA opens, under /dev (``nvidia0``... are matched by NVIDIA_GPU_NODE)
NVIDIA_CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
NVIDIA_GPU_NODE = re.compile(r"^nvidia[0-9]+$")
#: the driver's user-space libraries: libcuda and the libnvidia-* it loads (NVML, PTX compiler, ...)
NVIDIA_LIBRARY = re.compile(r"^(libcuda\.so|libnvidia-[\w.+-]*\.so)(\.[\d.]+)?$")
#: where drivers put these libraries when the loader's cache does not list them
NVIDIA_LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
                       "/lib64", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/local/cuda/compat",
                       "/usr/lib/wsl/lib", "/opt/nvidia/lib64")
#: where nvidia-smi is looked for besides PATH
NVIDIA_SMI_DIRS = ("/usr/bin", "/usr/local/nvidia/bin", "/usr/local/bin", "/opt/nvidia/bin")
#: extra read-only views a GPU evaluation needs besides the device nodes (PCI topology, NUMA and CPU layout)
GPU_SYS_PATHS = ("/sys/bus/pci", "/sys/devices/system", "/sys/module/nvidia", "/sys/module/nvidia_uvm")
#: parts of /proc that must stay read-only: uid 0 in the sandbox could otherwise change kernel settings
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger")


# -- environment -------------------------------------------------------------------------------------------------

def _allowed(key: str, accelerator: str) -> bool:
    if key in ENVIRONMENT_NAMES or key.startswith(ENVIRONMENT_PREFIXES):
        return True
    return accelerator == "gpu" and (key in GPU_ENVIRONMENT_NAMES or key.startswith(GPU_ENVIRONMENT_PREFIXES))


def clean_environment(env: dict[str, str], home: str = SANDBOX_HOME, tmpdir: str = "/tmp",
                      accelerator: str = "cpu") -> dict[str, str]:
    """The allowlisted part of the verifier's environment, with a fresh HOME and TMPDIR. A GPU evaluation also
    keeps CUDA_VISIBLE_DEVICES, NVIDIA_* and CUBLAS_WORKSPACE_CONFIG; a CPU one never sees them."""
    kept = {key: value for key, value in env.items() if _allowed(key, accelerator) and not SECRET_NAME.search(key)}
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


@dataclass(frozen=True)
class GpuDevices:
    """What a GPU evaluation's sandbox gets of this machine's NVIDIA driver: its device nodes (bound as devices),
    its user-space libraries and nvidia-smi (bound read-only, each at its own path), and the folders of the
    libraries the loader's cache does not list (the evaluation's LD_LIBRARY_PATH, so that CUDA finds them)."""

    nodes: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()
    library_path: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any(NVIDIA_GPU_NODE.match(os.path.basename(node)) for node in self.nodes)


def nvidia_device_nodes(dev: str | Path = "/dev") -> list[str]:
    """``nvidia0``, ``nvidia1``..., ``nvidiactl``, ``nvidia-uvm``, ``nvidia-uvm-tools``, ``nvidia-modeset`` and
    every entry of ``nvidia-caps`` under ``dev``, those present. Nothing else of /dev."""
    dev = Path(dev)
    try:
        entries = sorted(os.listdir(dev))
    except OSError:
        return []
    nodes = [str(dev / name) for name in entries if NVIDIA_GPU_NODE.match(name)]
    nodes += [str(dev / name) for name in NVIDIA_CONTROL_NODES if os.path.lexists(dev / name)]
    caps = dev / "nvidia-caps"
    if caps.is_dir():
        nodes += [str(caps / name) for name in sorted(os.listdir(caps))]
    return nodes


def loader_cache_listing() -> str:
    """``ldconfig -p``: every library the loader's cache knows, with its path."""
    for ldconfig in (shutil.which("ldconfig"), "/sbin/ldconfig", "/usr/sbin/ldconfig"):
        if ldconfig and os.access(ldconfig, os.X_OK):
            try:
                return subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=20).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
    return ""


def nvidia_libraries_in_listing(listing: str) -> list[str]:
    """The NVIDIA driver libraries in an ``ldconfig -p`` listing (lines such as
    ``libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1``)."""
    found = []
    for line in listing.splitlines():
        name, arrow, path = line.strip().partition(" => ")
        if arrow and NVIDIA_LIBRARY.match(name.split(" ", 1)[0]) and path.strip().startswith("/"):
            found.append(path.strip())
    return list(dict.fromkeys(found))


def nvidia_libraries_in_folders(folders) -> list[str]:
    found = []
    for folder in folders:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        found += [os.path.join(folder, name) for name in names if NVIDIA_LIBRARY.match(name)]
    return found


def gpu_devices(dev: str | Path = "/dev", listing: str | None = None, root: str | Path = "/",
                path: str | None = None) -> GpuDevices:
    """This machine's NVIDIA device nodes under ``dev``; the driver's libraries from ``listing`` (the output of
    ``ldconfig -p``; by default it is run) and from the usual library folders under ``root``; nvidia-smi on
    ``path`` (by default PATH) or in the usual folders under ``root``. Only what exists is returned."""
    root = str(root)
    listing = loader_cache_listing() if listing is None else listing
    cached = [library for library in nvidia_libraries_in_listing(listing) if os.path.exists(library)]
    folders = [os.path.join(root, folder.lstrip("/")) for folder in NVIDIA_LIBRARY_DIRS]
    scanned = [library for library in nvidia_libraries_in_folders(folders)
               if library not in cached and os.path.exists(library)]
    uncached_folders = [os.path.dirname(library) for library in scanned
                        if os.path.basename(library) not in {os.path.basename(known) for known in cached}]
    smi = shutil.which("nvidia-smi", path=os.environ.get("PATH", os.defpath) if path is None else path)
    smi = smi or next((candidate for folder in NVIDIA_SMI_DIRS
                       if os.access(candidate := os.path.join(root, folder.lstrip("/"), "nvidia-smi"), os.X_OK)),
                      None)
    return GpuDevices(nodes=tuple(nvidia_device_nodes(dev)), libraries=tuple(dict.fromkeys(cached + scanned)),
                      binaries=(smi,) if smi else (), library_path=tuple(dict.fromkeys(uncached_folders)))


def _visible_already(path: str) -> bool:
    """Under one of the system folders the sandbox already shows read-only at the same path."""
    return any(_is_within(Path(path), Path(system)) for system in SYSTEM_PATHS)


def _gpu_arguments(devices: GpuDevices) -> list[str]:
    argv: list[str] = []
    for node in devices.nodes:
        argv += ["--dev-bind", node, node]
    for name in (*devices.libraries, *devices.binaries):
        if not _visible_already(name):
            argv += ["--ro-bind", name, name]
    if devices.library_path:
        argv += ["--setenv", "LD_LIBRARY_PATH", ":".join(devices.library_path)]
    for name in GPU_SYS_PATHS:
        argv += ["--ro-bind-try", name, name]
    for name in sorted(glob.glob("/sys/devices/pci*")):
        argv += ["--ro-bind", name, name]
    return argv


def sandbox_arguments(workdir: Path, files: Path, env: dict[str, str], limits: Limits, accelerator: str = "cpu",
                      gpu: GpuDevices | None = None) -> list[str]:
    """bubblewrap's options: mounts (in order: system, /dev and /proc, fresh tmpfs folders, then what is bound
    under them), namespaces and capabilities. The caller appends the command. A GPU evaluation also gets the
    NVIDIA driver (``gpu``, by default this machine's: see gpu_devices); a CPU one never does."""
    argv = [*_system_arguments(), "--dev", "/dev", "--proc", "/proc"]
    for name in PROC_READ_ONLY:
        argv += ["--ro-bind-try", name, name]
    argv += ["--size", str(limits.tmpfs_bytes(0.5)), "--tmpfs", "/tmp",
             "--size", str(limits.tmpfs_bytes(0.25)), "--tmpfs", "/dev/shm",
             "--size", str(limits.tmpfs_bytes(0.25)), "--tmpfs", SANDBOX_HOME]
    for environment in python_environments(env):
        argv += ["--ro-bind", str(environment), str(environment)]
    if accelerator == "gpu":
        argv += _gpu_arguments(gpu_devices() if gpu is None else gpu)
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
