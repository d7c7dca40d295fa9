"""Helpers shared by the benchmarks."""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def best_of(runs: int, action) -> float:
    """The fastest of ``runs`` timings of ``action()``, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def report(name: str, results: dict) -> None:
    """Print the figures and keep them in ``bench/results/NAME.json``."""
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


# The gunicorn settings of the README's "Production" section and of the Dockerfile.
GUNICORN_ARGS = ["--worker-class", "gthread", "--workers", "4", "--threads", "8", "--timeout", "600",
                 "--limit-request-line", "8190"]
ACCESS_LOG_FORMAT = '%(m)s %(U)s %(s)s %(D)s'  # method, path, status, microseconds spent on the request


def gunicorn_registry(database_url: str, blob_dir: Path, log_path: Path, gunicorn_args=None, **env: str):
    """A LiveRegistry served by gunicorn (production settings unless given) instead of ``registry serve``; its
    access log (``log_path``) gives each request's duration in microseconds."""
    import subprocess

    from tests.live import BIN, LiveRegistry

    class GunicornRegistry(LiveRegistry):
        def start(self):
            self._log = open(self.log_path, "wb")
            command = [BIN / "gunicorn", "--bind", f"127.0.0.1:{self.port}", *(gunicorn_args or GUNICORN_ARGS),
                       "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT, "reproreg.app:create_app()"]
            self.process = subprocess.Popen(command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            import requests

            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()}")
                try:
                    requests.get(f"{self.url}/api/v1/openapi.json", timeout=10)
                    return self
                except (requests.ConnectionError, requests.Timeout):
                    time.sleep(0.1)
            self.process.terminate()
            self.process.wait(10)
            raise RuntimeError("gunicorn did not start within 30 s")

    return GunicornRegistry(database_url, blob_dir, log_path, **env)
