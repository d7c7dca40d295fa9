"""The stand-in Hugging Face Hub (``server.py``) as a process, and the environment that points
huggingface_hub at it."""

import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.hub_standin.server import MINILM, commit_for
from tests.live import free_port

__all__ = ["MINILM", "HubStandin", "commit_for"]


class HubStandin:
    def __init__(self, log_path: Path, repos: dict[str, Path] | None = None, alter: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.repos = dict(repos or {})
        self.alter = alter
        self.process: subprocess.Popen | None = None

    def start(self) -> "HubStandin":
        args = [sys.executable, str(Path(__file__).with_name("server.py")), "--port", str(self.port)]
        for name, folder in self.repos.items():
            args += ["--repo", f"{name}={folder}"]
        env = {"PATH": "/usr/bin:/bin", "HUB_STANDIN_ALTER": "1" if self.alter else "0"}
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        cwd=Path(__file__).resolve().parents[2])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stand-in Hub exited: {self.log_path.read_text()}")
            try:
                requests.get(f"{self.url}/api/models/{MINILM}", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the stand-in Hub did not start within 60 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        if self.process:
            self._log.close()
        self.process = None

    def restart(self, alter: bool | None = None) -> "HubStandin":
        self.stop()
        if alter is not None:
            self.alter = alter
        return self.start()

    def bytes_served(self, marker: str = "/lfs/") -> int:
        """The file bytes it has sent from paths containing ``marker`` (its log: METHOD PATH STATUS BYTES)."""
        self._log.flush() if self.process else None
        total = 0
        for line in self.log_path.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 4 and marker in parts[1] and parts[3].isdigit():
                total += int(parts[3])
        return total

    def environment(self, hf_home: Path) -> dict[str, str]:
        """What a process needs to use this stand-in through huggingface_hub, and nothing on the network."""
        return {"HF_ENDPOINT": self.url, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1",
                "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_OFFLINE": "0"}
