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

from regctl.sandbox.limits import Limits, SandboxUnavailable, make_cgroup
from regctl.sandbox.mounts import SANDBOX_HOME, clean_environment, render_command, sandbox_arguments
from regctl.sandbox.runner import Runner, RunResult

__all__ = [
    "SANDBOX_HOME", "Limits", "RunResult", "Runner", "SandboxUnavailable", "clean_environment", "make_cgroup",
    "render_command", "sandbox_arguments",
]
