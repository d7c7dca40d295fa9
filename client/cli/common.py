"""What every regctl command shares: the --json option, one way to turn errors into a message and an exit
code, and the API client built from regctl's configuration."""

import functools
import sys

import click

from regctl.api import ApiClient
from regctl.config import load_config
from regctl.errors import Interrupted, RegctlError, UsageError
from regctl.output import report_error

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")

#: what regctl says when Ctrl-C stops it (exit 130)
INTERRUPTED = "interrupted; run the same command again to resume"


class CommandGroup(click.Group):
    """A group whose help lists one full line per command, never cut off with '...' (each command's short help
    is written to fit)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def report_failure(line: str) -> None:
    """The one line on stderr that ends a run that failed."""
    click.echo(line, err=True)


def handles_errors(command):
    """Turn regctl's exceptions into a one-line message (or a JSON error) and their exit code. Ctrl-C becomes
    ``Interrupted``, which the command group reports (exit 130) wherever it happens."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        as_json = kwargs.get("as_json", False)
        try:
            return command(*args, **kwargs)
        except RegctlError as err:
            report_error(err, as_json)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            raise Interrupted(INTERRUPTED, code="INTERRUPTED") from None

    return wrapper


def api_client(token_required: bool = False) -> ApiClient:
    config = load_config()
    if token_required and not config.token:
        raise UsageError("no token: run 'regctl login' or set REGCTL_TOKEN", code="NO_TOKEN")
    return ApiClient(config.url, config.token)
