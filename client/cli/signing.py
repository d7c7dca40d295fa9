"""regctl keys: the Ed25519 key that signs verification reports."""


import click

from regctl import keys
from regctl.cli.common import api_client, handles_errors, json_option
from regctl.config import load_config
from regctl.output import emit_json


@click.group(name="keys")
def keys_group():
    """Your Ed25519 key for signing verification reports."""


@keys_group.command("create")
@click.option("--name", default=None, help="A label for the key (e.g. the machine).")
@json_option
@handles_errors
def keys_create(name: str | None, as_json: bool):
    """Make a signing key, register its public half with the registry, and keep the private half locally."""
    created = keys.create_key(api_client(token_required=True), name, load_config().key_dir)
    if as_json:
        emit_json(created)
        return
    click.echo(f"key {created['key_id']} registered; private key in {created['path']} (readable by you only)")
