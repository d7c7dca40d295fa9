"""regctl verify: locally in the sandbox, or remotely by a reference worker."""

import os
import sys
from pathlib import Path

import click

from regctl import commands, keys
from regctl.api import ApiClient, ReviewLinkClient, is_review_link, review_link_parts
from regctl.cache import BlobCache
from regctl.cli.common import api_client, handles_errors, json_option
from regctl.config import load_config
from regctl.errors import AuthError, EvaluationFailed, IntegrityError, RegctlError, UsageError
from regctl.output import emit_json, note, table
from reproreg_schemas.claims import hardware_note
from reproreg_schemas.jobs import is_integrity_failure
from reproreg_schemas.units import exact_number
from reproreg_schemas.verdicts import rule_text
from reproreg_schemas.verification import run_time_text
from reproreg_schemas.vocabulary import JOB_END_STATES, JobState


@click.command()
@click.argument("reference", metavar="NAME[@VERSION|@sha256:DIGEST]")
@click.option("--submit", is_flag=True, help="Sign the report with your key and record it in the registry (not "
                                             "through a review link: it needs an account with a key).")
@click.option("--no-sandbox", is_flag=True, help="Run the author's code without bubblewrap (recorded in the report).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to put the files and runs (default: a new temporary folder).")
@click.option("--yes", "-y", is_flag=True, help="Run the author's code without asking (for scripts). Without it, "
                                                "regctl asks on a terminal (default no) and refuses elsewhere.")
@click.option("--remote", is_flag=True, help="Have a reference worker of the registry run it; wait and show progress.")
@json_option
@handles_errors
def verify(reference: str, submit: bool, no_sandbox: bool, workdir: Path | None, yes: bool, remote: bool,
           as_json: bool):
    """Pull and hash-check a version, re-run its evaluation in a sandbox, and judge every claim.

    Before someone else's code runs on this machine, regctl shows the exact command and asks (default no);
    --yes answers for scripts, and without a terminal nothing runs unless --yes is given (exit 4).

    Exit 0 every claim held, 1 a claim failed, 2 integrity failure (nothing ran), 3 the evaluation failed,
    4 nothing to verify or not confirmed. With --remote the same codes, from the reference worker's run.

    REVIEW_URL (https://REGISTRY/review/<secret>) verifies the version an anonymous review link shows, with no
    account and no token sent: it is named only by its anonymous name, and every file is checked against the
    size and SHA-256 the link serves. A revoked or expired link exits 7. --submit and --remote need an account
    (a registered key, a token) and are refused with a review link (exit 6)."""
    from regctl import verify as verifying

    config = load_config()
    if is_review_link(reference):
        ref, api = None, _review_link_client(reference, submit, remote)
    else:
        ref = commands.parse_reference(reference)
        api = ApiClient(config.url, config.token)
    if remote:
        report = _verify_remotely(api_client(token_required=True), ref)  # progress on stderr
        emit_json(report) if as_json else _print_report(report, _claims_of(api, report))
        sys.exit(verifying.EXIT_FOR_OUTCOME[report["outcome"]])

    def notice(message: str) -> None:
        note(message)
        if not yes:
            _confirm()

    # a sandbox that cannot be built as specified is an evaluation failure (exit 3), never run unconfined
    options = verifying.VerifyOptions(sandboxed=not no_sandbox, workdir=workdir, env=os.environ)
    report = verifying.verify(api, BlobCache(config.cache_dir), ref, options, notice)
    if submit:
        key_id, signature = keys.sign(api, report, load_config().key_dir)
        recorded = api.submit_verification(report["name"], report["version"], report, signature, key_id)
        report = {**report, "submitted": {"id": recorded["id"], "role": recorded["role"],
                                          "signature_status": recorded["signature_status"]}}
    if as_json:
        emit_json(report)
    else:
        _print_report(report, _claims_of(api, report))
    sys.exit(verifying.EXIT_FOR_OUTCOME[report["outcome"]])


def _review_link_client(link: str, submit: bool, remote: bool) -> ReviewLinkClient:
    """The registry as the link's holder sees it; refuses what needs an account before anything is downloaded."""
    if submit or remote:
        raise AuthError(f"{'--submit' if submit else '--remote'} needs an account: a review link's holder has no "
                        "signing key registered and no token; verify without it (the report is printed, not "
                        "recorded)", code="REVIEW_LINK_NO_ACCOUNT")
    return ReviewLinkClient(*review_link_parts(link))


def _confirm() -> None:
    """Ask before running someone else's code here: on a terminal, default no; elsewhere refuse (use --yes)."""
    if not _interactive():
        raise UsageError("not run: regctl asks before running someone else's code and there is no terminal to "
                         "ask on; pass --yes to run it", code="CONFIRMATION_REQUIRED")
    if not click.confirm("Run it on this machine?", default=False, err=True):
        raise UsageError("not run: you declined", code="DECLINED")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _verify_remotely(api: ApiClient, ref) -> dict:
    """Queue a reference job, follow its state and log, and return the worker's report.

    A job that ran has succeeded, whatever its verification found (the report's outcome, and the exit code,
    say that); one that could not run ends in error: exit 2 when the files failed their hash check, else 3."""
    import time

    job = api.request_job(ref.name, ref.version)
    note(f"job {job['id']} queued for {job['name']}@{job['version']} ({job['accelerator']})")
    deadline = time.monotonic() + (job["timeout_s"] or 3600) * 3 + 600
    state, shown = None, 0
    while True:
        job = api.get_job(job["id"])
        if job["state"] != state:
            state = job["state"]
            note(f"job {job['id']}: {_state_text(job)}"
                 + (f" (attempt {job['attempt']}, {job['worker']} on {job['hardware']})" if job["worker"] else ""))
        for line in job["log"][shown:].splitlines():
            note(f"  | {line}")
        shown = len(job["log"])
        if state in JOB_END_STATES:
            break
        if time.monotonic() > deadline:
            raise EvaluationFailed(f"job {job['id']} did not finish in time; it stays queued: "
                                   f"follow it with the API at /api/v1/jobs/{job['id']}", code="JOB_TIMEOUT")
        time.sleep(1)
    if job.get("verification_id") is None:  # it could not run: no report
        error = IntegrityError if is_integrity_failure(job["failure"]) else EvaluationFailed
        raise error(f"job {job['id']} could not run: {job['failure']}", code="JOB_ERROR", details={"job": job})
    recorded = next(v for v in api.verifications(job["name"], job["digest"]) if v["id"] == job["verification_id"])
    return {**recorded["report"], "submitted": {"id": recorded["id"], "role": recorded["role"],
                                                "signature_status": recorded["signature_status"]},
            "job": job["id"], "job_state": job["state"]}


def _state_text(job: dict) -> str:
    """``succeeded (it ran; outcome: claim failed)`` for a job that ran, else the state."""
    outcome = job.get("outcome")
    if job["state"] == JobState.SUCCEEDED and outcome:
        return f"succeeded (it ran; outcome: {outcome_words(outcome)})"
    if job["state"] == JobState.ERROR:
        return f"error (it could not run: {job['failure']})"
    return job["state"]


def outcome_words(outcome: str) -> str:
    return outcome.replace("_", " ")


def _claims_of(api: ApiClient, report: dict) -> list[dict]:
    """The claims of the version the report checked, as its manifest states them (the hardware each was
    measured on among them); none when the registry cannot say now: the report stands without them."""
    try:
        document = api.get_version(report["name"], report["digest"])
    except RegctlError:  # a note, never a reason to fail a finished verification
        return []
    if document.get("digest") != report["digest"]:
        return []
    return (document.get("manifest") or {}).get("claims") or []


def hardware_lines(claims: list[dict], report: dict) -> list[str]:
    """``top1 (cifar10/test): claimed on A100-80GB, verified on H100 80GB HBM3`` for each claim judged on other
    hardware than the one it names; the verdicts stand as they are."""
    judged = {(v["metric"], v["dataset"]) for v in report.get("claims") or []}
    environment = report.get("environment") if isinstance(report.get("environment"), dict) else {}
    lines = []
    for claim in claims:
        note_text = hardware_note(claim.get("hardware"), environment)
        if note_text and (claim.get("metric"), claim.get("dataset")) in judged:
            lines.append(f"{claim['metric']} ({claim['dataset']}): {note_text}")
    return lines


def _print_report(report: dict, claims: list[dict] | None = None) -> None:
    environment = report["environment"]
    click.echo(f"{report['name']}@{report['version']}  {report['digest']}")
    click.echo(f"sandbox: {report['sandbox']}; accelerator asked {environment['accelerator_requested']}, used "
               f"{environment['accelerator_used']}; python {environment['python']}; {environment['cpu']}")
    seeded = "{seed}" in (report.get("command") or "")
    for run in report["runs"]:  # the seed only matters to a command that takes one
        label = f"run seed {run['seed']}" if seeded else "run"
        click.echo(f"{label}: exit {run['exit_code']}, {run_time_text(run)}"
                   + (" (timed out)" if run["timed_out"] else ""))
    if report["claims"]:
        rows = [[v["metric"], v["dataset"], exact_number(v["claimed"]), exact_number(v["measured"]),
                 v["verdict"].upper(), rule_text(v, report["runs"])]
                for v in report["claims"]]
        click.echo(table(rows, ["claim", "dataset", "claimed", "measured", "verdict", "rule"]))
        for line in hardware_lines(claims or [], report):
            click.echo(f"{line} (the verdict stands: it counts all the same)")
    if report["failure"]:
        click.echo(f"evaluation failed: {report['failure']}")
        failed = next((run for run in reversed(report["runs"]) if run["stderr_tail"]), None)
        if failed:
            click.echo("last lines of its stderr:\n  " + "\n  ".join(failed["stderr_tail"].splitlines()[-10:]))
    if report.get("job"):
        click.echo(f"job {report['job']}: {report.get('job_state', JobState.SUCCEEDED)} (it ran on the reference "
                   "worker)")
    click.echo(f"outcome: {outcome_words(report['outcome'])}")
    if "submitted" in report:
        click.echo(f"recorded as verification {report['submitted']['id']} ({report['submitted']['role']}, "
                   f"signature {report['submitted']['signature_status']})")
