"""A job's heartbeat: extends the lease and ships the job's log lines while it runs."""

import logging
import threading

from regctl.api import ApiClient
from regctl.errors import Conflict, RegctlError

log = logging.getLogger(__name__)


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
