"""Publishing: init, check, push, yank, and login."""

import os
import sys
from pathlib import Path

import click

from regctl import commands, scaffold
from regctl.api import ApiClient
from regctl.cli.common import api_client, handles_errors, json_option
from regctl.config import load_config, save_login
from regctl.errors import RegctlError, UsageError
from regctl.output import emit_json, note, table
from reproreg_schemas.units import human_size

folder_argument = click.argument("folder", default=".", metavar="[FOLDER]",
                                 type=click.Path(file_okay=False, path_type=Path))


@click.command()
@folder_argument
@click.option("--name", default=None, metavar="NAMESPACE/NAME",
              help="The artifact's name (default: your namespace, asked of the registry when a token is set, else "
                   "your login name, and the folder's name).")
@click.option("--force", is_flag=True, help="Replace an existing regctl.yaml.")
@click.option("--from-hf", "from_hf", default=None, metavar="ORG/NAME[@REVISION]",
              help="Describe a model on the Hugging Face Hub instead: its files pinned at the commit REVISION "
                   "(default main) resolves to, with the sizes and SHA-256 the Hub publishes, and its model card's "
                   "license, datasets, base model, paper links and model-index results (as claims).")
@json_option
@handles_errors
def init(folder: Path, name: str | None, force: bool, from_hf: str | None, as_json: bool):
    """Write a commented regctl.yaml for FOLDER (default: the current folder): the files found, with weights,
    dependency files and configs recognised, every checklist item with its question, unanswered, and the claims
    and evaluation to fill in. As written it is a draft that 'regctl check' accepts.

    With --from-hf ORG/NAME[@REVISION] the files are the Hub model's, referenced as hf://ORG/NAME@<commit>/<path>
    (push sends none of their bytes unless --mirror). HF_ENDPOINT, HF_HOME and HF_TOKEN apply.

    Example: regctl init ./my-model && regctl check ./my-model"""
    if from_hf:
        _init_from_hub(folder, from_hf, name, force, as_json)
        return
    result = scaffold.write_scaffold(folder, name=name, force=force, whoami=_whoami())
    if as_json:
        emit_json(result)
        return
    click.echo(f"wrote {result['path']} for {result['name']}@{result['version']}")
    click.echo(f"  files: {len(result['files'])} ({_found(result)})")
    left_out = result["left_out"]
    for label, paths in (("hidden", left_out["hidden"]), ("looks like a secret", left_out["secrets"]),
                         ("name refused", left_out["refused"])):
        if paths:
            click.echo(f"  left out ({label}): {_few(paths)}")
    click.echo(f"next: answer the {result['checklist_items']} checklist items (and add claims and an evaluation, if "
               f"the version has something to verify), then run 'regctl check {folder}'")


def _init_from_hub(folder: Path, repository: str, name: str | None, force: bool, as_json: bool) -> None:
    result = scaffold.write_hub_scaffold(folder, repository, name=name, force=force, whoami=_whoami())
    if as_json:
        emit_json(result)
        return
    click.echo(f"wrote {result['path']} for {result['name']}@{result['version']}")
    click.echo(f"  from {result['repository']}@{result['revision']} = commit {result['commit']}")
    click.echo(f"  Hub files: {len(result['files'])}, {human_size(sum(f['size'] for f in result['files']))}"
               + (f"; files in the folder: {len(result['local_files'])}" if result["local_files"] else ""))
    click.echo(f"  license: {result['license'] or 'not in the model card'}")
    click.echo(f"  claims from the model card: {len(result['claims'])}"
               + (" (set each tolerance)" if result["claims"] else ""))
    click.echo(f"next: answer the {result['checklist_items']} checklist items and add an evaluation command (without "
               f"one the claims are not verifiable yet), then run 'regctl check {folder}'")


def _whoami():
    """Who the configured token belongs to, as a function to call, or None without a token."""
    try:
        api = api_client()
    except RegctlError:
        return None
    return api.whoami if api.token else None


def _found(result: dict) -> str:
    parts = []
    for label, paths in (("weights", result["weights"]), ("dependency files", result["dependencies"]),
                         ("configs", result["configs"])):
        parts.append(f"{label}: {_few(paths)}" if paths else f"no {label}")
    return "; ".join(parts)


def _few(paths: list[str], limit: int = 5) -> str:
    return ", ".join(paths[:limit]) + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


@click.command()
@folder_argument
@json_option
@handles_errors
def check(folder: Path, as_json: bool):
    """Validate FOLDER/regctl.yaml (default: the current folder) and show what 'regctl push' would do, publishing
    nothing: the files and their sizes, what would be uploaded (asking the registry which blobs it lacks when a
    token is set), how far the checklist is answered, the claims and the evaluation.

    Exit 0 when push would succeed; 4 when the folder is invalid, 6 when the token cannot push into the namespace,
    8 when the version is already published with other content."""
    _dry_run(folder, as_json)


@click.command()
@folder_argument
@click.option("--dry-run", is_flag=True, help="Only show what would be published and uploaded (as 'regctl check').")
@click.option("--mirror", is_flag=True, help="Copy the bytes of files on the Hugging Face Hub into the registry "
                                             "(downloaded through the Hub cache, checked, uploaded); without it they "
                                             "are only referenced.")
@json_option
@handles_errors
def push(folder: Path, dry_run: bool, mirror: bool, as_json: bool):
    """Validate FOLDER/regctl.yaml (FOLDER defaults to the current folder, .), upload the files the registry
    lacks, and publish the version. A checklist partly answered, or no claims or evaluation, publishes a draft.

    Files on the Hugging Face Hub (entries with a source) are checked against the Hub's published size and SHA-256
    and referenced; --mirror uploads their bytes too (the 'available' badge needs every byte in the registry).

    Example: regctl push examples/hello"""
    if dry_run:
        _dry_run(folder, as_json)
        return
    result = commands.push(api_client(token_required=True), folder, show_progress=not as_json, mirror=mirror)
    if as_json:
        emit_json(result)
        return
    for warning in result["warnings"]:
        note(f"warning: checklist {warning['item']}: {warning['message']}")
    for warning in result["file_warnings"]:
        note(f"warning: {warning['message']}")
    state = "published" if result["created"] else "already published (unchanged)"
    note(f"uploaded {result['blobs_uploaded']} blob(s), {human_size(result['bytes_uploaded'])}")
    if result["hub_files"]:
        note(f"Hub files: {result['hub_files']}, {human_size(result['hub_bytes'])}: "
             + (f"mirrored {result['mirrored']} into the registry" if result["mirrored"] else
                "referenced (checked against the Hub), not uploaded"))
    click.echo(f"{state} {result['name']}@{result['version']}")
    click.echo(f"digest: {result['digest']}")
    click.echo(f"url:    {result['url']}")
    click.echo(f"checklist: {_checklist_text(result['checklist'])}")
    click.echo(f"claims: {_claims_text(result['claims'])}")


def _dry_run(folder: Path, as_json: bool) -> None:
    api, reason = api_client(), None
    if not api.token:
        api, reason = None, "no token: run 'regctl login' or set REGCTL_TOKEN"
    result = commands.check(api, folder, show_progress=not as_json, no_registry_reason=reason)
    if as_json:
        emit_json(result)
        return
    registry = result["registry"]
    if not registry["asked"]:
        state = f"could not ask the registry ({registry['reason']})"
    elif registry["version_state"] == "unchanged":
        state = "already published with this content: push would change nothing"
    else:
        state = "push would publish a new version"
    click.echo(f"{result['name']}@{result['version']}: {'a draft; ' if result['draft'] else ''}{state}")
    click.echo(f"files: {len(result['files'])}, {human_size(result['bytes_total'])}")
    rows = [[f["path"], human_size(f["size"]), "on the Hub (referenced)" if f.get("source") else
             "upload" if f["upload"] else "the registry has it"] for f in result["files"]]
    click.echo("\n".join("  " + line for line in table(rows, ["path", "size", "upload"]).splitlines()))
    upload = f"upload: {result['upload']['blobs']} blob(s), {human_size(result['upload']['bytes'])}"
    click.echo(upload if registry["asked"] else upload + " (every file: the registry was not asked)")
    click.echo(f"checklist: {_checklist_text(result['checklist'])}")
    for warning in result["warnings"]:
        click.echo(f"warning: checklist {warning['item']}: {warning['message']}")
    for warning in result["file_warnings"]:
        click.echo(f"warning: {warning['message']}")
    click.echo(f"claims: {_claims_text(result['claims'])}")
    evaluation = result["evaluation"]
    click.echo("evaluation: " + (f"{evaluation['command']} ({evaluation['accelerator']}, timeout "
                                 f"{evaluation['timeout_s']} s)" if evaluation else "none (nothing to run)"))
    click.echo(f"visibility: {result['visibility']}")
    click.echo(f"digest: {result['digest']}")


def _checklist_text(checklist: dict) -> str:
    text = f"{checklist['answered']}/{checklist['items']} answered"
    if checklist["unanswered"]:
        return f"{text}, a draft (unanswered: {_few(checklist['unanswered'], 8)})"
    if checklist["warnings"]:
        return f"{text}, {len(checklist['warnings'])} contradicted by the files"
    return f"{text}, complete"


def _claims_text(count: int) -> str:
    return str(count) if count else "none (no claims to verify)"


@click.command()
@click.argument("reference", metavar="NAME@VERSION")
@click.option("--reason", required=True, help="Why the version must not be used.")
@json_option
@handles_errors
def yank(reference: str, reason: str, as_json: bool):
    """Mark a version as yanked. It stays resolvable and listed, but is never the latest."""
    ref = commands.parse_reference(reference)
    if not ref.version:
        raise UsageError("name the version to yank: NAME@VERSION")
    document = api_client(token_required=True).yank(ref.name, ref.version, reason)
    if as_json:
        emit_json(document)
        return
    click.echo(f"yanked {document['name']}@{document['version']} ({document['digest']})")


@click.command()
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
