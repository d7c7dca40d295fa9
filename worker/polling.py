"""Finding jobs again: lost messages and dead workers' jobs are handed out once more."""

import logging
import threading

from regctl.errors import RegctlError
from reproreg_worker.identity import WorkerIdentity

log = logging.getLogger(__name__)


def redispatch(identity: WorkerIdentity, send, older_than_s: float) -> int:
    """Hand every runnable job this worker could run (queued too long, or whose lease expired) to ``send`` again:
    a job that needs a bigger GPU is left to the workers that have one."""
    runnable = [job for job in identity.api().runnable_jobs(list(identity.accelerators), older_than_s)
                if identity.can_run(job)]
    for job in runnable:
        send(job)
    return len(runnable)


class Poller(threading.Thread):
    """Every ``interval`` seconds, refreshes the worker's registration (its hardware, and that it is still
    around) and re-dispatches stale jobs: lost messages and dead workers' jobs run again."""

    def __init__(self, identity: WorkerIdentity, send, interval: float):
        super().__init__(daemon=True)
        self.identity, self.send, self.interval = identity, send, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.identity.register()
            except RegctlError as err:
                log.warning("refreshing the worker's registration failed: %s", err.message)
            try:
                redispatch(self.identity, self.send, older_than_s=self.interval)
            except RegctlError as err:
                log.warning("polling for stale jobs failed: %s", err.message)

    def stop(self) -> None:
        self.stopped.set()
