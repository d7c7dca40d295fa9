"""Reading entries: pull, show, and badge snippets."""

from pathlib import Path

import click

from regctl import commands
from regctl.api import ApiClient
from regctl.cache import BlobCache
from regctl.cli.common import api_client, handles_errors, json_option
from regctl.config import load_config
from regctl.output import badge_snippets, emit_json, note, table
from reproreg_schemas.claims import tolerance_text
from reproreg_schemas.units import human_size
from reproreg_schemas.vocabulary import BadgeKind, values


@click.command()
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


@click.command()
@click.argument("reference", metavar="NAME[@VERSION|@sha256:DIGEST]")
@json_option
@handles_errors
def show(reference: str, as_json: bool):
    """Show a version: digest, files, claims and checklist warnings."""
    ref = commands.parse_reference(reference)
    api = api_client()
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


@click.command()
@click.argument("reference", metavar="NAME[@VERSION]")
@click.option("--kind", type=click.Choice(values(BadgeKind)), default=BadgeKind.COMBINED.value, show_default=True)
@json_option
@handles_errors
def badge(reference: str, kind: str, as_json: bool):
    """Markdown and HTML snippets of a version's badge, linking to its page on the registry."""
    snippets = badge_snippets(commands.verified_version(api_client(), commands.parse_reference(reference)), kind)
    if as_json:
        emit_json(snippets)
        return
    click.echo(snippets["markdown"])
    click.echo(snippets["html"])
