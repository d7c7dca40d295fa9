"""regctl keys: the Ed25519 keys that sign verification reports."""


import click

from regctl import keys
from regctl.cli.common import CommandGroup, api_client, handles_errors, json_option
from regctl.config import load_config
from regctl.output import emit_json, table


@click.group(name="keys", cls=CommandGroup)
def keys_group():
    """Your Ed25519 keys for signing verification reports."""


@keys_group.command("create", short_help="Make a key, register its public half, keep the private one here.")
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


@keys_group.command("list", short_help="List the signing keys registered for your account.")
@json_option
@handles_errors
def keys_list(as_json: bool):
    """List the signing keys registered for your account on the registry (id, label, when registered)."""
    registered = api_client(token_required=True).list_keys()
    if as_json:
        emit_json(registered)
        return
    if not registered:
        click.echo("no signing keys registered: make one with 'regctl keys create'")
        return
    click.echo(table([[key["id"], key.get("name") or "", key.get("created_at") or "", key["public_key"]]
                      for key in registered], ["id", "name", "registered", "public key"]))
