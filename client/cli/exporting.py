"""Exporting a version's record for other places: the model card's ``model-index``."""

import click
import yaml

from regctl import commands, hub
from regctl.cli.common import api_client, handles_errors, json_option
from regctl.cli.reading import version_record
from regctl.errors import UsageError
from regctl.output import emit_json

NOT_VERIFIABLE = "not verifiable yet"
NOT_VERIFIED = "not verified"


def exported_claims(document: dict, record: dict) -> list[dict]:
    """Each claim with what the latest trusted verification that judged it measured, and its verdict; a version
    without an evaluation command says its claims are not verifiable yet."""
    verifiable = bool(document["manifest"].get("evaluation"))
    claims = []
    for claim in record["claims"]:
        latest = claim["latest_trusted"]
        claims.append({"metric": claim["metric"], "dataset": claim["dataset"], "value": claim["claimed"],
                       "tolerance": claim["tolerance"],
                       "measured": latest["measured"] if latest else None,
                       "verdict": latest["verdict"] if latest else NOT_VERIFIED if verifiable else NOT_VERIFIABLE,
                       "verification_id": latest["verification_id"] if latest else None,
                       "verifier": latest["verifier"] if latest else None})
    return claims


@click.command()
@click.argument("reference", metavar="NAME[@VERSION|@sha256:DIGEST]")
@click.option("--model-card", "model_card", is_flag=True,
              help="The model-index YAML of the version's claims for a Hugging Face model card: each with what "
                   "the latest trusted verification measured (the claimed value where none has) and a source link "
                   "to the version's page on this registry.")
@json_option
@handles_errors
def export(reference: str, model_card: bool, as_json: bool):
    """Export a version's claims for elsewhere. --model-card prints the model-index YAML to paste into the model
    card's metadata; with --json, the claims with measured values and verdicts, and the model-index, for tools.

    Example: regctl export alice/minilm@1.0.0 --model-card"""
    if not model_card:
        raise UsageError("say what to export: --model-card", code="USAGE")
    api = api_client()
    document = commands.verified_version(api, commands.parse_reference(reference))
    record = version_record(document, api.badges(document["name"], document["version"]),
                            api.verifications(document["name"], document["version"]))
    claims = exported_claims(document, record)
    index = hub.model_index(document, claims, document["url"])
    if as_json:
        emit_json({"name": document["name"], "version": document["version"], "digest": document["digest"],
                   "url": document["url"], "claims": claims, "model_index": index})
        return
    click.echo(yaml.safe_dump({"model-index": index}, sort_keys=False, allow_unicode=True), nl=False)
