"""regctl venue: committees of venues, for their chairs."""


import click

from regctl.cli.common import CommandGroup, api_client, handles_errors, json_option
from regctl.output import emit_json
from reproreg_schemas.vocabulary import VenueRole, values


@click.group(name="venue", cls=CommandGroup)
def venue_group():
    """Venue committees (for chairs)."""


@venue_group.command("add", short_help="Add a user to a venue's committee (you must chair it).")
@click.argument("slug")
@click.argument("user")
@click.option("--role", type=click.Choice(values(VenueRole)), default=VenueRole.REVIEWER.value, show_default=True)
@json_option
@handles_errors
def venue_add(slug: str, user: str, role: str, as_json: bool):
    """Add USER to the committee of venue SLUG (you must chair it)."""
    member = api_client(token_required=True).add_venue_member(slug, user, role)
    if as_json:
        emit_json(member)
        return
    click.echo(f"{member['user']} is now a {member['role']} of {slug}")
