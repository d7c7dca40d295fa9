"""Verifying large multipart uploads in the background of the web processes.

Completing a large upload only assembles it in the object store; hashing it (minutes for a 15 GB checkpoint)
happens here, in a few daemon threads of each web process (``registry serve`` or a gunicorn worker), never in
the request. The truth is the upload's row (``multipart_uploads``): a thread takes the upload's lease with a
conditional UPDATE, streams the object back and hashes it while renewing the lease, then settles it in one
transaction, if it still holds the lease. A process that dies mid-way leaves its lease to expire; the next
process that sees it expired (at start-up, or when the client polls the upload) takes the upload up again. The
rules are in ``reproreg.services.multipart``; this module only runs them, one transaction per step.
"""

import logging
import queue
import secrets
import threading
import time

from reproreg.context import RegistryContext
from reproreg.models.base import utcnow
from reproreg.services import multipart
from reproreg.unit_of_work import unit_of_work

log = logging.getLogger(__name__)


class BlobVerifier:
    """A small pool of daemon threads verifying uploads by id. Submitting an upload twice, or one another process
    verifies, is harmless: only the holder of the lease hashes it."""

    def __init__(self, ctx: RegistryContext, threads: int | None = None, lease_s: int | None = None, clock=utcnow):
        self.ctx = ctx
        self.threads = threads or ctx.settings.verify_threads
        self.lease_s = lease_s or ctx.settings.verify_lease_s
        self.clock = clock
        self._queue: queue.Queue[str] = queue.Queue()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    # --- handing work over ---------------------------------------------------------------------------------
    def submit(self, upload_id: str) -> None:
        """Verify this upload soon (in a thread of this process), unless this process already has it in hand."""
        with self._lock:
            if upload_id in self._queued:
                return
            self._queued.add(upload_id)
            if len(self._workers) < self.threads:
                worker = threading.Thread(target=self._work, name=f"blob-verifier-{len(self._workers)}", daemon=True)
                self._workers.append(worker)
                worker.start()
        self._queue.put(upload_id)

    def resume_stalled(self, upload_id: str | None = None) -> list[str]:
        """Take up the verifying uploads whose lease is free or expired (all, or just ``upload_id``)."""
        with unit_of_work(self.ctx.sessions) as session:
            stalled = multipart.stalled_verifications(session, self.clock(), upload_id)
        for stalled_id in stalled:
            self.submit(stalled_id)
        return stalled

    def resume_at_start(self) -> None:
        """At start-up, in a thread of its own: take up what a process that stopped left verifying."""
        def run():
            try:
                taken = self.resume_stalled()
            except Exception:  # e.g. a database not migrated yet: the next poll takes them up instead
                log.warning("could not look for stalled upload verifications at start-up", exc_info=True)
                return
            if taken:
                log.info("taking up %d upload verification(s) left unfinished", len(taken))

        threading.Thread(target=run, name="blob-verifier-start", daemon=True).start()

    def _work(self) -> None:
        while True:
            upload_id = self._queue.get()
            try:
                self.verify(upload_id)
            except Exception:  # its lease lapses; the next poll (or start-up) takes the upload up again
                log.exception("verifying upload %s failed; it will be taken up again", upload_id)
            finally:
                with self._lock:
                    self._queued.discard(upload_id)

    # --- one job -------------------------------------------------------------------------------------------
    def verify(self, upload_id: str) -> str | None:
        """Take the lease, hash the assembled object, settle it. Returns the new status, or None when the upload
        was not this process's to verify (not verifying, or leased by another live process)."""
        owner = secrets.token_hex(16)
        with unit_of_work(self.ctx.sessions) as session:
            job = multipart.take_verification(session, upload_id, owner, self.clock(), self.lease_s)
        if job is None:
            return None
        renew_every = max(self.lease_s / 3, 0.5)
        next_renewal = [time.monotonic() + renew_every]

        def keep_going() -> None:
            if time.monotonic() < next_renewal[0]:
                return
            with unit_of_work(self.ctx.sessions) as session:
                held = multipart.renew_verification(session, upload_id, owner, self.clock(), self.lease_s)
            if not held:
                raise multipart.LeaseLost(upload_id)
            next_renewal[0] = time.monotonic() + renew_every

        try:
            actual, bad_part = multipart.hash_assembled(self.ctx.blobs, upload_id, job["size"], job["part_size"],
                                                        job["parts"], keep_going)
            with unit_of_work(self.ctx.sessions) as session:
                status = multipart.settle_verification(self.ctx, session, upload_id, owner, actual, bad_part)
        except multipart.LeaseLost:
            log.warning("upload %s was taken over by another process; leaving it to that one", upload_id)
            return None
        log.info("upload %s verified: %s", upload_id, status)
        return status


def create_verifier(ctx: RegistryContext) -> BlobVerifier | None:
    """The verifier for a registry whose uploads can complete in the object store (S3); None otherwise."""
    return BlobVerifier(ctx) if ctx.blobs.supports_presigning else None
