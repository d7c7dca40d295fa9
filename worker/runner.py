"""Running one job: lease it, run the same verification as ``regctl verify`` (pull, hash-check, sandbox, judge),
sign the report with the worker's key (which names the worker's account, a nonce and the signing time in it) and
submit it with the lease. A report is submitted whatever it found (the job then succeeded, with that outcome);
a job that cannot produce one is failed with the reason, marked when the files failed their hash check."""

import shutil
import tempfile
from pathlib import Path

from regctl import keys
from regctl.commands import Reference
from regctl.errors import Conflict, IntegrityError, RegctlError
from regctl.verify import VerifyOptions, verify
from reproreg_schemas.jobs import INTEGRITY_FAILURE_PREFIX
from reproreg_worker.heartbeat import Heartbeat
from reproreg_worker.identity import WorkerIdentity


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
        options = VerifyOptions(sandboxed=True, workdir=workdir, job=job_id, env=identity.environment)
        report = verify(api, identity.cache(), Reference(job["name"], job["digest"]), options, heartbeat.note)
        heartbeat.note(f"outcome: {report['outcome']}" + (f" ({report['failure']})" if report["failure"] else ""))
        heartbeat.beat()
        key_id, signature = keys.sign(api, report, identity.key_dir)
        api.submit_verification(report["name"], report["version"], report, signature, key_id, job["lease"])
        return "recorded"
    except Conflict:
        return "lost"
    except RegctlError as err:
        failure = (INTEGRITY_FAILURE_PREFIX if isinstance(err, IntegrityError) else "") + err.message
        try:
            api.fail_job(job_id, job["lease"], failure[:10000])
        except RegctlError:
            return "lost"
        return "failed"
    finally:
        heartbeat.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def ensure_key(identity: WorkerIdentity) -> None:
    """Make and register the worker's signing key once (kept under its home)."""
    api = identity.api()
    if not keys.has_key(api, identity.key_dir):
        keys.create_key(api, f"worker {identity.name}", identity.key_dir)
