"""What regctl prints: human text on stdout, notes and errors on stderr, or one JSON document."""

import json
import sys

import click
from regctl.errors import RegctlError


def emit_json(document) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def note(message: str, quiet: bool = False) -> None:
    if not quiet:
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


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
