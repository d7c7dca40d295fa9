"""Reading entries: pull, show, and badge snippets."""

from pathlib import Path

import click

from regctl import commands
from regctl.api import ApiClient, is_review_link
from regctl.cache import BlobCache
from regctl.cli.common import api_client, handles_errors, json_option
from regctl.config import load_config
from regctl.output import badge_snippets, emit_json, note, table
from reproreg_schemas.checklist import ITEMS
from reproreg_schemas.claims import hardware_note, tolerance_text
from reproreg_schemas.units import exact_number, human_size
from reproreg_schemas.verdicts import run_values, with_run_values
from reproreg_schemas.vocabulary import COMPLETED_OUTCOMES, BadgeKind, ChecklistState, ReproducedState, values


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
    command exits 4 naming them, unless --force.

    REVIEW_URL (https://REGISTRY/review/<secret>) pulls the version an anonymous review link shows, with no
    account and no token sent, into ./submission-... (its anonymous name) unless -o is given."""
    config = load_config()
    if is_review_link(reference):
        result = commands.review_pull(reference, BlobCache(config.cache_dir), output, show_progress=not as_json,
                                      force=force)
    else:
        ref = commands.parse_reference(reference)
        result = commands.pull(ApiClient(config.url, config.token), BlobCache(config.cache_dir), ref,
                               output or Path(ref.name.split("/")[1]), show_progress=not as_json, force=force)
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
    """Show a version: digest, files, badge states, each claim with its latest trusted verification (measured
    value, verdict and rule, who, hardware, when), community reports and checklist warnings."""
    ref = commands.parse_reference(reference)
    api = api_client()
    document = commands.verified_version(api, ref)
    states = api.badges(document["name"], document["version"])
    record = version_record(document, states, api.verifications(document["name"], document["version"]))
    if as_json:
        emit_json({**document, **record})
        return
    manifest = document["manifest"]
    yanked = f"  YANKED: {document['yank_reason']}" if document["yanked"] else ""
    click.echo(f"{document['name']}@{document['version']}  ({document['visibility']}){yanked}")
    click.echo(f"  {manifest['title']}")
    click.echo(f"digest:    {document['digest']}")
    click.echo(f"published: {document['published_at']} by {document['published_by']}")
    click.echo(f"license:   {manifest['license']}")
    click.echo(f"badges:    {badges_line(record)}")
    click.echo("\nfiles:")
    if any(f.get("source") for f in manifest["files"]):
        click.echo(table([[f["path"], human_size(f["size"]), f["sha256"], f.get("source") or "registry"]
                          for f in manifest["files"]], ["path", "size", "sha256", "source"]))
    else:
        click.echo(table([[f["path"], human_size(f["size"]), f["sha256"]] for f in manifest["files"]],
                         ["path", "size", "sha256"]))
    click.echo("")
    for line in claims_lines(record):
        click.echo(line)
    for warning in document["checklist_warnings"]:
        click.echo(f"checklist warning {warning['item']}: {warning['message']}")
    click.echo(f"\npull with: regctl pull {document['name']}@{document['version']}")


def version_record(document: dict, states: dict, verifications: list[dict]) -> dict:
    """What ``show`` adds to the version: its badge states, the checklist's answered items, each claim with the
    latest trusted verification that judged it, and the number of community reports."""
    manifest = document["manifest"]
    answered, items = states.get("checklist_answered"), states.get("checklist_items")
    if answered is None or items is None:
        given = manifest.get("checklist") or {}
        answered = sum(1 for item in ITEMS if isinstance(given.get(item), dict) and given[item].get("answer"))
        items = len(ITEMS)
    judged = [v for v in verifications if v["trusted"] and v["outcome"] in COMPLETED_OUTCOMES]  # oldest first
    claims = []
    for claim in manifest.get("claims") or []:
        latest = None
        for verification in judged:
            verdict = next((c for c in verification["claims"]
                            if c["metric"] == claim["metric"] and c["dataset"] == claim["dataset"]), None)
            if verdict is not None:
                latest = {"verification_id": verification["id"], "verifier": verification["verifier"],
                          "role": verification["role"], "hardware": verification["hardware"],
                          "created_at": verification["created_at"], "measured": verdict["measured"],
                          "measured_runs": run_values(verdict, (verification.get("report") or {}).get("runs", [])),
                          "verdict": verdict["verdict"], "rule": verdict["rule"],
                          "hardware_note": hardware_note(claim.get("hardware"), _environment(verification))}
        claims.append({"metric": claim["metric"], "dataset": claim["dataset"], "claimed": claim["value"],
                       "tolerance": claim["tolerance"], "tolerance_text": tolerance_text(claim),
                       "hardware": claim.get("hardware"), "latest_trusted": latest})
    return {"badges": states, "checklist": {"answered": answered, "items": items},
            "claims": claims, "community_reports": states.get("community", {}).get("reports", 0),
            # claims without an evaluation command (e.g. imported from a model card) cannot be verified yet
            "verifiable": bool(manifest.get("evaluation"))}


def _environment(verification: dict) -> dict:
    environment = verification.get("environment") or (verification.get("report") or {}).get("environment")
    return environment if isinstance(environment, dict) else {}


def badges_line(record: dict) -> str:
    """``available · functional · reproduction failed · checklist 14/21``, each marked yes or no."""
    states, checklist = record["badges"], record["checklist"]
    reproduced = {ReproducedState.REPRODUCED: "reproduced: yes",
                  ReproducedState.FAILED: "reproduced: FAILED"}.get(states["reproduced_state"],
                                                                     "reproduced: not verified")
    if not record.get("verifiable", True) and record["claims"] and states["reproduced_state"] not in (
            ReproducedState.REPRODUCED, ReproducedState.FAILED):
        reproduced = "reproduced: not verifiable yet (no evaluation)"
    parts = [f"available: {'yes' if states['available'] else 'no'}",
             f"functional: {'yes' if states['functional'] else 'not evaluated'}", reproduced,
             f"checklist {checklist['answered']}/{checklist['items']}"
             + ("" if states["checklist_state"] == ChecklistState.COMPLETE else f" ({states['checklist_state']})")]
    return " · ".join(parts) + ("  (yanked)" if states["yanked"] else "")


def claims_lines(record: dict) -> list[str]:
    if not record["claims"]:
        lines = ["no claims to verify"]
    else:
        rows, sources = [], {}
        for claim in record["claims"]:
            latest = claim["latest_trusted"]
            if latest is None:
                rows.append([claim["metric"], claim["dataset"], exact_number(claim["claimed"]),
                             claim["tolerance_text"], "-",
                             "not verified" if record.get("verifiable", True) else "not verifiable yet", "", ""])
                continue
            sources.setdefault(latest["verification_id"], latest)
            rule = with_run_values(latest["rule"], latest["measured_runs"])
            rows.append([claim["metric"], claim["dataset"], exact_number(claim["claimed"]), claim["tolerance_text"],
                         exact_number(latest["measured"]), latest["verdict"].upper(), rule,
                         f"#{latest['verification_id']}"])
        lines = ["claims (each with the latest trusted verification that judged it):",
                 table(rows, ["metric", "dataset", "claimed", "tolerance", "measured", "verdict", "rule", "by"])]
        lines += [f"  #{key}: {v['verifier']} ({v['role']}) on {v['hardware']}, {v['created_at']}"
                  for key, v in sources.items()]
        lines += [f"  {claim['metric']} ({claim['dataset']}): {claim['latest_trusted']['hardware_note']} "
                  f"(#{claim['latest_trusted']['verification_id']}; it counts all the same)"
                  for claim in record["claims"] if (claim["latest_trusted"] or {}).get("hardware_note")]
    reports = record["community_reports"]
    lines.append(f"community reports: {reports}" + (" (shown on the version page; they never earn a badge)"
                                                    if reports else ""))
    return lines


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
