"""regctl: the command line of the Reproducibility Registry.

Exit codes: 0 success; 1 a claim did not hold; 2 integrity failure (hash or size mismatch);
3 the evaluation failed; 4 usage or invalid input; 5 cannot reach the registry; 6 not authorised;
7 not found; 8 conflict (e.g. the version exists with other content); 9 the registry failed.
"""

import functools
import os
import sys
from pathlib import Path

import click

from regctl import commands, keys
from regctl.api import ApiClient
from regctl.cache import BlobCache
from regctl.config import load_config, save_login
from regctl.errors import EvaluationFailed, RegctlError, UsageError
from regctl.output import badge_snippets, emit_json, note, report_error, table
from reproreg_schemas.claims import tolerance_text
from reproreg_schemas.units import human_size
from reproreg_schemas.vocabulary import JOB_END_STATES, BadgeKind, JobState, VenueRole, values

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")


def handles_errors(command):
    """Turn regctl's exceptions into a one-line message (or a JSON error) and their exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        as_json = kwargs.get("as_json", False)
        try:
            return command(*args, **kwargs)
        except RegctlError as err:
            report_error(err, as_json)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted; run the same command again to resume", err=True)
            sys.exit(130)

    return wrapper


def _api(token_required: bool = False) -> ApiClient:
    config = load_config()
    if token_required and not config.token:
        raise UsageError("no token: run 'regctl login' or set REGCTL_TOKEN", code="NO_TOKEN")
    return ApiClient(config.url, config.token)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=__doc__.split("\n\n", 1)[1])
@click.version_option(package_name="reproducibility-registry", prog_name="regctl")
def main():
    """Push, pull and check machine-learning artifacts. Reads REGCTL_URL and REGCTL_TOKEN, or what
    'regctl login' saved."""


@main.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@json_option
@handles_errors
def push(folder: Path, as_json: bool):
    """Validate FOLDER/regctl.yaml, upload the files the registry lacks, and publish the version."""
    result = commands.push(_api(token_required=True), folder, show_progress=not as_json)
    if as_json:
        emit_json(result)
        return
    for warning in result["warnings"]:
        note(f"warning: checklist {warning['item']}: {warning['message']}")
    state = "published" if result["created"] else "already published (unchanged)"
    note(f"uploaded {result['blobs_uploaded']} blob(s), {human_size(result['bytes_uploaded'])}")
    click.echo(f"{state} {result['name']}@{result['version']}")
    click.echo(f"digest: {result['digest']}")
    click.echo(f"url:    {result['url']}")


@main.command()
@click.argument("reference", metavar="NAME[@VERSION|@sha256:DIGEST]")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the files into (default: ./NAME).")
@click.option("--force", is_flag=True, help="Overwrite files in the folder whose content differs from the version.")
@json_option
@handles_errors
def pull(reference: str, output: Path | None, force: bool, as_json: bool):
    """Download a version, check every file's size and SHA-256, and write the files.

    Each file is a copy of its own (never a link into the cache). Files already in the folder with the right
    content are kept; if any has other content (edited, or from another version), nothing is written and the
    command exits 4 naming them, unless --force."""
    ref = commands.parse_reference(reference)
    output = output or Path(ref.name.split("/")[1])
    config = load_config()
    result = commands.pull(ApiClient(config.url, config.token), BlobCache(config.cache_dir), ref, output,
                           show_progress=not as_json, force=force)
    if as_json:
        emit_json(result)
        return
    if result["overwritten"]:
        note(f"overwrote {len(result['overwritten'])} file(s) that differed: {', '.join(result['overwritten'][:10])}"
             + (" ..." if len(result["overwritten"]) > 10 else ""))
    if result["yanked"]:
        note(f"warning: {result['name']}@{result['version']} is yanked: {result['yank_reason']}")
    note(f"downloaded {human_size(result['bytes_downloaded'])}; every file matched its sha256")
    click.echo(f"pulled {result['name']}@{result['version']} into {result['output']}")
    click.echo(f"digest: {result['digest']}")


@main.command()
@click.argument("reference", metavar="NAME[@VERSION|@sha256:DIGEST]")
@json_option
@handles_errors
def show(reference: str, as_json: bool):
    """Show a version: digest, files, claims and checklist warnings."""
    ref = commands.parse_reference(reference)
    api = _api()
    document = commands.verified_version(api, ref)
    if as_json:
        emit_json(document)
        return
    manifest = document["manifest"]
    yanked = f"  YANKED: {document['yank_reason']}" if document["yanked"] else ""
    click.echo(f"{document['name']}@{document['version']}  ({document['visibility']}){yanked}")
    click.echo(f"  {manifest['title']}")
    click.echo(f"digest:    {document['digest']}")
    click.echo(f"published: {document['published_at']} by {document['published_by']}")
    click.echo(f"license:   {manifest['license']}")
    click.echo("\nfiles:")
    click.echo(table([[f["path"], human_size(f["size"]), f["sha256"]] for f in manifest["files"]],
                     ["path", "size", "sha256"]))
    if manifest["claims"]:
        click.echo("\nclaims:")
        rows = [[c["metric"], c["dataset"], f"{c['value']:g}", tolerance_text(c)] for c in manifest["claims"]]
        click.echo(table(rows, ["metric", "dataset", "claimed", "tolerance"]))
    for warning in document["checklist_warnings"]:
        click.echo(f"checklist warning {warning['item']}: {warning['message']}")
    click.echo(f"\npull with: regctl pull {document['name']}@{document['version']}")


@main.command()
@click.argument("reference", metavar="NAME@VERSION")
@click.option("--reason", required=True, help="Why the version must not be used.")
@json_option
@handles_errors
def yank(reference: str, reason: str, as_json: bool):
    """Mark a version as yanked. It stays resolvable and listed, but is never the latest."""
    ref = commands.parse_reference(reference)
    if not ref.version:
        raise UsageError("name the version to yank: NAME@VERSION")
    document = _api(token_required=True).yank(ref.name, ref.version, reason)
    if as_json:
        emit_json(document)
        return
    click.echo(f"yanked {document['name']}@{document['version']} ({document['digest']})")


@main.command()
@click.option("--url", default=None, help="The registry's address (default: REGCTL_URL or the saved one).")
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input instead of a prompt.")
@json_option
@handles_errors
def login(url: str | None, token_stdin: bool, as_json: bool):
    """Check a token against the registry and save it (readable by you only)."""
    url = (url or load_config().url).rstrip("/")
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = os.environ.get("REGCTL_TOKEN") or click.prompt("Token", hide_input=True)
    if not token:
        raise UsageError("no token given")
    identity = ApiClient(url, token).whoami()
    path = save_login(url, token)
    if as_json:
        emit_json({"url": url, "user": identity["name"], "config": str(path)})
        return
    click.echo(f"logged in to {url} as {identity['name']} (saved in {path})")


@main.command()
@click.argument("reference", metavar="NAME[@VERSION|@sha256:DIGEST]")
@click.option("--submit", is_flag=True, help="Sign the report with your key and record it in the registry.")
@click.option("--no-sandbox", is_flag=True, help="Run the author's code without bubblewrap (recorded in the report).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to put the files and runs (default: a new temporary folder).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before running the author's code.")
@click.option("--remote", is_flag=True, help="Have a reference worker of the registry run it; wait and show progress.")
@json_option
@handles_errors
def verify(reference: str, submit: bool, no_sandbox: bool, workdir: Path | None, yes: bool, remote: bool,
           as_json: bool):
    """Pull and hash-check a version, re-run its evaluation in a sandbox, and judge every claim.

    Exit 0 every claim held, 1 a claim failed, 2 integrity failure (nothing ran), 3 the evaluation failed."""
    from regctl import verify as verifying

    ref = commands.parse_reference(reference)
    config = load_config()
    api = ApiClient(config.url, config.token)
    if remote:
        report = _verify_remotely(_api(token_required=True), ref)  # progress on stderr
        emit_json(report) if as_json else _print_report(report)
        sys.exit(verifying.EXIT_FOR_OUTCOME[report["outcome"]])

    def notice(message: str) -> None:
        note(message)
        if not yes and not as_json and sys.stdin.isatty() and not click.confirm("Run it?", default=True):
            raise UsageError("not run: you declined", code="DECLINED")

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
        _print_report(report)
    sys.exit(verifying.EXIT_FOR_OUTCOME[report["outcome"]])


def _verify_remotely(api: ApiClient, ref) -> dict:
    """Queue a reference job, follow its state and log, and return the worker's report."""
    import time

    job = api.request_job(ref.name, ref.version)
    note(f"job {job['id']} queued for {job['name']}@{job['version']} ({job['accelerator']})")
    deadline = time.monotonic() + (job["timeout_s"] or 3600) * 3 + 600
    state, shown = None, 0
    while True:
        job = api.get_job(job["id"])
        if job["state"] != state:
            state = job["state"]
            note(f"job {job['id']}: {state}" + (f" (attempt {job['attempt']}, {job['worker']} on {job['hardware']})"
                                                 if job["worker"] else ""))
        for line in job["log"][shown:].splitlines():
            note(f"  | {line}")
        shown = len(job["log"])
        if state in JOB_END_STATES:
            break
        if time.monotonic() > deadline:
            raise EvaluationFailed(f"job {job['id']} did not finish in time; it stays queued: "
                                   f"follow it with the API at /api/v1/jobs/{job['id']}", code="JOB_TIMEOUT")
        time.sleep(1)
    if state == JobState.ERROR:
        raise EvaluationFailed(f"job {job['id']} could not complete: {job['failure']}", code="JOB_ERROR",
                               details={"job": job})
    recorded = next(v for v in api.verifications(job["name"], job["digest"]) if v["id"] == job["verification_id"])
    return {**recorded["report"], "submitted": {"id": recorded["id"], "role": recorded["role"],
                                                "signature_status": recorded["signature_status"]},
            "job": job["id"]}


def _print_report(report: dict) -> None:
    environment = report["environment"]
    click.echo(f"{report['name']}@{report['version']}  {report['digest']}")
    click.echo(f"sandbox: {report['sandbox']}; accelerator asked {environment['accelerator_requested']}, used "
               f"{environment['accelerator_used']}; python {environment['python']}; {environment['cpu']}")
    for run in report["runs"]:
        click.echo(f"run seed {run['seed']}: exit {run['exit_code']}, {run['wall_time_s']:.2f} s"
                   + (" (timed out)" if run["timed_out"] else ""))
    if report["claims"]:
        rows = [[v["metric"], v["dataset"], f"{v['claimed']:g}",
                 "-" if v["measured"] is None else f"{v['measured']:.6g}", v["rule"], v["verdict"].upper()]
                for v in report["claims"]]
        click.echo(table(rows, ["claim", "dataset", "claimed", "measured", "rule", "verdict"]))
    if report["failure"]:
        click.echo(f"evaluation failed: {report['failure']}")
        failed = next((run for run in reversed(report["runs"]) if run["stderr_tail"]), None)
        if failed:
            click.echo("last lines of its stderr:\n  " + "\n  ".join(failed["stderr_tail"].splitlines()[-10:]))
    click.echo(f"outcome: {report['outcome']}")
    if "submitted" in report:
        click.echo(f"recorded as verification {report['submitted']['id']} ({report['submitted']['role']}, "
                   f"signature {report['submitted']['signature_status']})")


@main.group(name="keys")
def keys_group():
    """Your Ed25519 key for signing verification reports."""


@keys_group.command("create")
@click.option("--name", default=None, help="A label for the key (e.g. the machine).")
@json_option
@handles_errors
def keys_create(name: str | None, as_json: bool):
    """Make a signing key, register its public half with the registry, and keep the private half locally."""
    created = keys.create_key(_api(token_required=True), name, load_config().key_dir)
    if as_json:
        emit_json(created)
        return
    click.echo(f"key {created['key_id']} registered; private key in {created['path']} (readable by you only)")


@main.command()
@click.argument("reference", metavar="NAME[@VERSION]")
@click.option("--kind", type=click.Choice(values(BadgeKind)), default=BadgeKind.COMBINED.value, show_default=True)
@json_option
@handles_errors
def badge(reference: str, kind: str, as_json: bool):
    """Markdown and HTML snippets of a version's badge, linking to its page on the registry."""
    snippets = badge_snippets(commands.verified_version(_api(), commands.parse_reference(reference)), kind)
    if as_json:
        emit_json(snippets)
        return
    click.echo(snippets["markdown"])
    click.echo(snippets["html"])


@main.group(name="venue")
def venue_group():
    """Venue committees (for chairs)."""


@venue_group.command("add")
@click.argument("slug")
@click.argument("user")
@click.option("--role", type=click.Choice(values(VenueRole)), default=VenueRole.REVIEWER.value, show_default=True)
@json_option
@handles_errors
def venue_add(slug: str, user: str, role: str, as_json: bool):
    """Add USER to the committee of venue SLUG (you must chair it)."""
    member = _api(token_required=True).add_venue_member(slug, user, role)
    if as_json:
        emit_json(member)
        return
    click.echo(f"{member['user']} is now a {member['role']} of {slug}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
