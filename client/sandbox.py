"""Running untrusted evaluation code: bubblewrap with no network, the working folder as the only writable
place, the downloaded files read-only, secrets hidden, and limits on wall time and memory."""

import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from client.config import config_file

OUTPUT_TAIL_BYTES = 32 * 1024
DEFAULT_MEMORY_MB = 8192

#: environment variables never handed to evaluation code
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY|AUTH|COOKIE|SESSION", re.I)
SECRET_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "GCP_", "GCLOUD_", "CLOUDSDK_", "REGCTL_", "REGISTRY_", "HF_",
                   "HUGGING_FACE", "GITHUB_", "GH_", "GITLAB_", "OPENAI_", "ANTHROPIC_", "WANDB_", "NETRC", "SSH_",
                   "GPG_", "DOCKER_", "KUBECONFIG", "DATABASE_URL", "PG", "MYSQL_", "REDIS_", "CELERY_", "BROKER_")
#: files and folders under $HOME that hold credentials; hidden inside the sandbox
SECRET_PATHS = (".ssh", ".aws", ".azure", ".gnupg", ".netrc", ".docker", ".kube", ".config/gcloud",
                ".git-credentials", ".pypirc", ".huggingface", ".cache/huggingface/token", ".config/gh")


class SandboxUnavailable(Exception):
    pass


@dataclass
class RunResult:
    exit_code: int | None
    timed_out: bool
    wall_time_s: float
    stdout_tail: str
    stderr_tail: str
    limits: dict = field(default_factory=dict)


def clean_environment(env: dict[str, str]) -> dict[str, str]:
    """The verifier's environment (PATH, virtualenv, locale...) without tokens and cloud credentials."""
    return {key: value for key, value in env.items()
            if not SECRET_NAME.search(key) and not key.upper().startswith(SECRET_PREFIXES)}


def render_command(command: str, files: Path, metrics: Path, seed: int) -> str:
    """Fill the placeholders with shell-quoted values (the command runs under ``sh -c``)."""
    return command.format(files=shlex.quote(str(files)), metrics=shlex.quote(str(metrics)), seed=int(seed))


def bubblewrap_path() -> str | None:
    """REGCTL_BWRAP names the bubblewrap binary; by default it is looked up on PATH."""
    return os.environ.get("REGCTL_BWRAP") or shutil.which("bwrap")


def bubblewrap_available() -> bool:
    path = bubblewrap_path()
    if not path:
        return False
    try:
        probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-net", "--dev", "/dev", "true"],
                               capture_output=True, timeout=20)
    except OSError:
        return False
    return probe.returncode == 0


class Runner:
    """Runs one evaluation command. ``sandboxed=False`` runs it directly (only with --no-sandbox)."""

    def __init__(self, sandboxed: bool = True):
        if sandboxed and not bubblewrap_available():
            raise SandboxUnavailable("no sandbox is available: install bubblewrap (Debian/Ubuntu: apt-get install "
                                     "bubblewrap), or pass --no-sandbox to run the author's code unconfined")
        self.sandboxed = sandboxed
        self.kind = "bubblewrap" if sandboxed else "none"

    def _argv(self, shell_command: str, workdir: Path, files: Path) -> list[str]:
        if not self.sandboxed:
            return ["sh", "-c", shell_command]
        argv = [bubblewrap_path(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                "--bind", str(workdir), str(workdir), "--ro-bind", str(files), str(files),
                "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
                "--new-session", "--chdir", str(workdir)]
        for kept in self._environment_under_tmp():
            argv += ["--ro-bind", str(kept), str(kept)]
        for hidden in self._secret_paths():
            argv += ["--tmpfs", str(hidden)] if hidden.is_dir() else ["--ro-bind", "/dev/null", str(hidden)]
        return [*argv, "sh", "-c", shell_command]

    @staticmethod
    def _environment_under_tmp() -> list[Path]:
        """The verifier's Python environment stays visible even where it lives under /tmp (which the sandbox
        replaces with an empty tmpfs): the virtualenv and the PATH entries there are bound back, read-only."""
        candidates = [os.environ.get("VIRTUAL_ENV"), sys.prefix, *os.environ.get("PATH", "").split(os.pathsep)]
        kept = []
        for candidate in filter(None, candidates):
            path = Path(candidate).resolve()
            if path.is_dir() and Path("/tmp") in path.parents and not any(k in path.parents or k == path
                                                                          for k in kept):
                kept.append(path)
        return kept

    @staticmethod
    def _secret_paths() -> list[Path]:
        home = Path.home()
        candidates = [home / relative for relative in SECRET_PATHS] + [config_file().parent]
        return [path for path in dict.fromkeys(candidates) if path.exists() and not path.is_symlink()]

    def run(self, shell_command: str, workdir: Path, files: Path, timeout_s: int, memory_mb: int | None,
            env: dict[str, str]) -> RunResult:
        memory_mb = memory_mb or DEFAULT_MEMORY_MB
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        env = {**clean_environment(env), "TMPDIR": str(workdir / "tmp")}
        limit = memory_mb * 1024 * 1024

        def limit_memory():
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        started = time.monotonic()
        process = subprocess.Popen(self._argv(shell_command, workdir, files), cwd=workdir, env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   preexec_fn=limit_memory, start_new_session=True)
        tails = [_Tail(process.stdout), _Tail(process.stderr)]
        timed_out = False
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for tail in tails:
            tail.join()
        return RunResult(exit_code=None if timed_out else process.returncode, timed_out=timed_out,
                         wall_time_s=round(time.monotonic() - started, 3), stdout_tail=tails[0].text(),
                         stderr_tail=tails[1].text(),
                         limits={"timeout_s": timeout_s, "memory_mb": memory_mb, "network": not self.sandboxed})


class _Tail(threading.Thread):
    """Reads a pipe to its end, keeping only the last OUTPUT_TAIL_BYTES (memory stays bounded)."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe = pipe
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.start()

    def run(self):
        while chunk := self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536):
            self.chunks.append(chunk)
            self.size += len(chunk)
            while self.size - len(self.chunks[0]) >= OUTPUT_TAIL_BYTES:
                self.size -= len(self.chunks.popleft())
        self.pipe.close()

    def text(self) -> str:
        data = b"".join(self.chunks)[-OUTPUT_TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")
