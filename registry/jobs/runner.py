"""Running one job as a reference worker: lease it, run the same verification as ``regctl verify`` (pull,
hash-check, sandbox, judge), sign the report with the worker's key (which names the worker's account, a nonce
and the signing time in it) and submit it with the lease."""

import logging
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from regctl import keys
from regctl.api import ApiClient
from regctl.cache import BlobCache
from regctl.commands import Reference
from regctl.errors import Conflict, RegctlError
from regctl.verify import VerifyOptions, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerIdentity:
    url: str
    token: str
    name: str
    accelerators: tuple[str, ...] = ("cpu",)
    hardware: str = "cpu"
    home: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "registry-worker")
    heartbeat_s: float = 10.0

    def api(self) -> ApiClient:
        return ApiClient(self.url, self.token)


class Heartbeat(threading.Thread):
    """Extends the lease every ``interval`` seconds and ships the log lines gathered since the last beat."""

    def __init__(self, api: ApiClient, job_id: str, lease: str, interval: float):
        super().__init__(daemon=True)
        self.api, self.job_id, self.lease, self.interval = api, job_id, lease, interval
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.lost = False

    def note(self, text: str) -> None:
        with self.lock:
            self.lines.append(text.rstrip("\n") + "\n")

    def beat(self) -> None:
        with self.lock:
            text, self.lines = "".join(self.lines), []
        try:
            self.api.heartbeat_job(self.job_id, self.lease, text)
        except Conflict:
            self.lost = True
            self.stopped.set()
        except RegctlError as err:
            log.warning("heartbeat for job %s failed: %s", self.job_id, err.message)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.beat()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=self.interval + 5)


def run_job(identity: WorkerIdentity, job_id: str) -> str:
    """Run a job if it can be leased; returns what happened ("skipped", "recorded", "failed", "lost")."""
    api = identity.api()
    try:
        job = api.lease_job(job_id, identity.name, list(identity.accelerators), identity.hardware)
    except Conflict:
        return "skipped"  # taken by another delivery, finished, or needing other hardware
    heartbeat = Heartbeat(api, job_id, job["lease"], identity.heartbeat_s)
    heartbeat.start()
    workdir = Path(tempfile.mkdtemp(prefix=f"job-{job_id[:8]}-"))
    try:
        report = verify(api, BlobCache(identity.home / "cache"), Reference(job["name"], job["digest"]),
                        VerifyOptions(sandboxed=True, workdir=workdir, job=job_id), heartbeat.note)
        heartbeat.note(f"outcome: {report['outcome']}" + (f" ({report['failure']})" if report["failure"] else ""))
        heartbeat.beat()
        key_id, signature = keys.sign(api, report)
        api.submit_verification(report["name"], report["version"], report, signature, key_id, job["lease"])
        return "recorded"
    except Conflict:
        return "lost"
    except RegctlError as err:
        try:
            api.fail_job(job_id, job["lease"], err.message)
        except RegctlError:
            return "lost"
        return "failed"
    finally:
        heartbeat.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def redispatch(identity: WorkerIdentity, send, older_than_s: float) -> int:
    """Hand every runnable job (queued too long, or whose lease expired) to ``send`` again."""
    runnable = identity.api().runnable_jobs(list(identity.accelerators), older_than_s)
    for job in runnable:
        send(job)
    return len(runnable)


class Poller(threading.Thread):
    """Re-dispatches stale jobs every ``interval`` seconds: lost messages and dead workers' jobs run again."""

    def __init__(self, identity: WorkerIdentity, send, interval: float):
        super().__init__(daemon=True)
        self.identity, self.send, self.interval = identity, send, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                redispatch(self.identity, self.send, older_than_s=self.interval)
            except RegctlError as err:
                log.warning("polling for stale jobs failed: %s", err.message)

    def stop(self) -> None:
        self.stopped.set()


def use_own_environment() -> None:
    """Evaluations run in the worker's own Python environment: put its interpreter first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir
    if sys.prefix != sys.base_prefix:
        os.environ["VIRTUAL_ENV"] = sys.prefix


def ensure_key(identity: WorkerIdentity) -> None:
    """Make and register the worker's signing key once (kept under its home)."""
    if not keys.has_key(identity.api()):
        keys.create_key(identity.api(), f"worker {identity.name}")
