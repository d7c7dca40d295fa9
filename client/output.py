"""What regctl prints: human text on stdout, notes and errors on stderr, or one JSON document."""

import json

import click

from regctl.errors import RegctlError
from reproreg_schemas.vocabulary import BadgeKind


def emit_json(document) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def note(message: str) -> None:
    click.echo(message, err=True)


def report_error(err: RegctlError, as_json: bool) -> None:
    if as_json:
        emit_json({"error": {"code": err.code, "message": err.message, "details": err.details}})
        return
    click.echo(f"error: {err.message}", err=True)
    problems = err.details.get("problems") if isinstance(err.details, dict) else None
    if isinstance(problems, dict):
        for path, messages in problems.items():
            for message in messages if isinstance(messages, list) else [messages]:
                click.echo(f"  {path}: {message}", err=True)


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
             for row in [headers, *rows]]
    return "\n".join(lines)


def badge_snippets(document: dict, kind: str = BadgeKind.COMBINED) -> dict:
    """Markdown and HTML that show a version's badge and link to its page, from the registry's answer for the
    version (``document``): every address starts with the base of its ``url``, the registry's public URL."""
    name, version, page = document["name"], document["version"], document["url"]
    base = page.removesuffix(f"/{name}/{version}")
    image = f"{base}/badges/{name}/{version}"
    query = "" if kind == BadgeKind.COMBINED else f"?kind={kind}"
    alt = f"{'reproducibility' if kind == BadgeKind.COMBINED else kind} of {name} {version}"
    return {"markdown": f"[![{alt}]({image}.svg{query})]({page})",
            "html": f'<a href="{page}"><img src="{image}.svg{query}" alt="{alt}"></a>',
            "image": f"{image}.svg{query}", "page": page, "shields_endpoint": f"{image}.json{query}"}
