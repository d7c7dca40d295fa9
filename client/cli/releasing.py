"""Responsible release: anonymous review links, gated access requests, and staged releases (pause, resume,
advance)."""

import re
from pathlib import Path

import click

from regctl import commands
from regctl.cache import BlobCache
from regctl.cli.common import CommandGroup, api_client, handles_errors, json_option
from regctl.config import load_config
from regctl.errors import UsageError
from regctl.output import emit_json, note
from reproreg_schemas.units import human_size
from reproreg_schemas.vocabulary import ReleaseStage, values


def _days(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*d?", text.strip())
    if match is None:
        raise UsageError(f"--expires takes a number of days, e.g. 30d, not {text!r}", code="BAD_VALUE")
    return int(match.group(1))


# --- review links ------------------------------------------------------------------------------------------
@click.group(name="review-link", cls=CommandGroup,
             short_help="Create, list and revoke anonymous review links; pull one.")
def review_link_group():
    """Anonymous review links: one version, no account, no names (double-blind review)."""


@review_link_group.command("create", short_help="Create an expiring anonymous link to a version.")
@click.argument("reference", metavar="NAME@VERSION")
@click.option("--expires", default="30d", show_default=True, help="How long the link lasts, in days (30d).")
@json_option
@handles_errors
def review_link_create(reference: str, expires: str, as_json: bool):
    """Create an anonymous review link to NAME@VERSION. Whoever holds it can view the version's page, and pull
    and check its files, without an account and without seeing any owner, namespace or author name."""
    ref = commands.parse_reference(reference)
    link = api_client(token_required=True).create_review_link(ref.name, ref.version or "latest", _days(expires))
    if as_json:
        emit_json(link)
        return
    click.echo(link["url"])
    note(f"link {link['id']} to {ref.name}@{link['version']}, expires {link['expires_at'][:10]}; it is shown only "
         f"now. Revoke it with: regctl review-link revoke {ref.name} {link['id']}")


@review_link_group.command("list", short_help="List an artifact's review links and their uses.")
@click.argument("name")
@json_option
@handles_errors
def review_link_list(name: str, as_json: bool):
    """List the review links of NAME (yours) with every use."""
    links = api_client(token_required=True).review_links(name)
    if as_json:
        emit_json(links)
        return
    for link in links:
        state = f"revoked {link['revoked_at'][:10]}" if link["revoked_at"] else f"expires {link['expires_at'][:10]}"
        click.echo(f"{link['id']}  {link['version']}  {state}  {len(link['uses'])} use(s)")
        for use in link["uses"]:
            click.echo(f"    {use['at'][:19]}  {use['what']}")


@review_link_group.command("revoke", short_help="Revoke a review link.")
@click.argument("name")
@click.argument("link_id", type=int)
@json_option
@handles_errors
def review_link_revoke(name: str, link_id: int, as_json: bool):
    """Revoke review link LINK_ID of NAME: it stops working at once."""
    link = api_client(token_required=True).revoke_review_link(name, link_id)
    if as_json:
        emit_json(link)
        return
    click.echo(f"revoked review link {link['id']} of {name}")


@review_link_group.command("pull", short_help="Pull the version a review link shows (no account).")
@click.argument("link", metavar="URL")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the files into (default: the submission's opaque name).")
@click.option("--force", is_flag=True, help="Overwrite files in the folder whose content differs.")
@json_option
@handles_errors
def review_link_pull(link: str, output: Path | None, force: bool, as_json: bool):
    """Download the files of the version behind review link URL (https://REGISTRY/review/<secret>), checking
    each file's size and SHA-256. No token is sent. The same as ``regctl pull URL``; ``regctl verify URL`` also
    runs the evaluation and judges every claim."""
    result = commands.review_pull(link, BlobCache(load_config().cache_dir), output, show_progress=not as_json,
                                  force=force)
    if as_json:
        emit_json(result)
        return
    note(f"downloaded {human_size(result['bytes_downloaded'])}; every file matched its sha256")
    click.echo(f"pulled {result['name']}@{result['version']} into {result['output']}")


# --- gated access -----------------------------------------------------------------------------------------
@click.group(name="access", cls=CommandGroup, short_help="Request gated access; list, approve and deny requests.")
def access_group():
    """Gated access: request a gated artifact's files; owners list, approve and deny requests."""


@access_group.command("request", short_help="Ask for a gated artifact's files, saying why.")
@click.argument("name")
@click.option("--purpose", required=True, help="What you will use the files for.")
@json_option
@handles_errors
def access_request(name: str, purpose: str, as_json: bool):
    """Ask the owner of gated artifact NAME for its files."""
    row = api_client(token_required=True).request_access(name, purpose)
    if as_json:
        emit_json(row)
        return
    click.echo(f"request {row['id']} for {name}: {row['state']}")


@access_group.command("list", short_help="List access requests (all of them, for the owner).")
@click.argument("name")
@json_option
@handles_errors
def access_list(name: str, as_json: bool):
    """List the access requests of NAME: every one for its owner, your own otherwise."""
    rows = api_client(token_required=True).access_requests(name)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        conditions = f"  conditions: {row['conditions']}" if row["conditions"] else ""
        click.echo(f"{row['id']}  {row['requester']}  {row['state']}  {row['purpose']}{conditions}")


def _decide(decision: str):
    @click.argument("name")
    @click.argument("request_id", type=int)
    @click.option("--conditions", default=None, help="Conditions of the approval, shown to the requester.")
    @json_option
    @handles_errors
    def command(name: str, request_id: int, conditions: str | None, as_json: bool):
        row = api_client(token_required=True).decide_access(name, request_id, decision, conditions)
        if as_json:
            emit_json(row)
            return
        click.echo(f"request {row['id']} of {row['requester']} for {name}: {row['state']}")

    command.__doc__ = f"{decision.capitalize()} access request REQUEST_ID of NAME (you must own it)."
    return command


access_group.command("approve", short_help="Approve a request (optionally with conditions).")(_decide("approve"))
access_group.command("deny", short_help="Deny a request.")(_decide("deny"))


# --- staged release ---------------------------------------------------------------------------------------
@click.group(name="release", cls=CommandGroup, short_help="Show, pause, resume or advance a staged release.")
def release_group():
    """Staged releases: show, pause, resume, advance early."""


def _print_release(document: dict, as_json: bool) -> None:
    if as_json:
        emit_json(document)
        return
    paused = f"  paused: {document['pause_reason']}" if document["paused"] else ""
    click.echo(f"{document['name']}: {document['stage']} (risk {document['risk']}){paused}")
    for step in document["plan"]:
        click.echo(f"  {step['stage']} on {step['on']}{' (reached)' if step['reached_at'] else ''}")
    if document["blocked"]:
        click.echo(f"  held: missing {', '.join(document['blocked'])}")


@release_group.command("show", short_help="Show an artifact's stage, plan and pause.")
@click.argument("name")
@json_option
@handles_errors
def release_show(name: str, as_json: bool):
    """Show the release of NAME."""
    _print_release(api_client().release(name), as_json)


@release_group.command("pause", short_help="Hold a staged release, with a public reason.")
@click.argument("name")
@click.option("--reason", required=True, help="Why: shown on the artifact's page.")
@json_option
@handles_errors
def release_pause(name: str, reason: str, as_json: bool):
    """Hold the release plan of NAME; the reason is public."""
    _print_release(api_client(token_required=True).release_action(name, "pause", {"reason": reason}), as_json)


@release_group.command("resume", short_help="Let a paused release continue.")
@click.argument("name")
@json_option
@handles_errors
def release_resume(name: str, as_json: bool):
    """Let the release plan of NAME continue."""
    _print_release(api_client(token_required=True).release_action(name, "resume"), as_json)


@release_group.command("advance", short_help="Advance to the next (or a given) stage now.")
@click.argument("name")
@click.option("--to", "stage", type=click.Choice(values(ReleaseStage)), default=None,
              help="The stage to reach (default: the plan's next one).")
@json_option
@handles_errors
def release_advance(name: str, stage: str | None, as_json: bool):
    """Advance NAME early; a high-risk artifact passes the ethics gate first."""
    _print_release(api_client(token_required=True).release_action(name, "advance", {"stage": stage}), as_json)


# --- collaborators ----------------------------------------------------------------------------------------
@click.group(name="collaborators", cls=CommandGroup,
             short_help="Add, list and remove who may read and pull an artifact.")
def collaborators_group():
    """Collaborators: users the owner names, who see and pull an artifact at every release stage (private
    included) and change nothing of it."""


@collaborators_group.command("add", short_help="Name a collaborator on an artifact you own.")
@click.argument("name")
@click.argument("user")
@json_option
@handles_errors
def collaborators_add(name: str, user: str, as_json: bool):
    """Name USER a collaborator on NAME: they read and pull it at every stage, but cannot push, yank, change its
    stage or manage its links, collaborators or access requests."""
    row = api_client(token_required=True).add_collaborator(name, user)
    if as_json:
        emit_json(row)
        return
    click.echo(f"{row['user']} is a collaborator on {name}")


@collaborators_group.command("remove", short_help="Remove a collaborator; their access ends at once.")
@click.argument("name")
@click.argument("user")
@json_option
@handles_errors
def collaborators_remove(name: str, user: str, as_json: bool):
    """Remove collaborator USER from NAME."""
    rows = api_client(token_required=True).remove_collaborator(name, user)
    if as_json:
        emit_json(rows)
        return
    click.echo(f"{user} is no longer a collaborator on {name}")


@collaborators_group.command("list", short_help="List an artifact's collaborators.")
@click.argument("name")
@json_option
@handles_errors
def collaborators_list(name: str, as_json: bool):
    """List the collaborators of NAME (you must own it)."""
    rows = api_client(token_required=True).collaborators(name)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['user']}  added {row['added_at'][:10]}")
