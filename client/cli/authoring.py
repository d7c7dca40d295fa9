"""Publishing: push, yank, and login."""

import os
import sys
from pathlib import Path

import click

from regctl import commands
from regctl.api import ApiClient
from regctl.cli.common import api_client, handles_errors, json_option
from regctl.config import load_config, save_login
from regctl.errors import UsageError
from regctl.output import emit_json, note
from reproreg_schemas.units import human_size


@click.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@json_option
@handles_errors
def push(folder: Path, as_json: bool):
    """Validate FOLDER/regctl.yaml, upload the files the registry lacks, and publish the version."""
    result = commands.push(api_client(token_required=True), folder, show_progress=not as_json)
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
