"""What every regctl command shares: the --json option, one way to turn errors into a message and an exit
code, and the API client built from regctl's configuration."""

import functools
import sys

import click

from regctl.api import ApiClient
from regctl.config import load_config
from regctl.errors import RegctlError, UsageError
from regctl.output import report_error

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")


def handles_errors(command):
    """Turn regctl's exceptions into a one-line message (or a JSON error) and their exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        as_json = kwargs.get("as_json", False)
        try:
            return command(*args, **kwargs)
        except RegctlError as err:
            report_error(err, as_json)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted; run the same command again to resume", err=True)
            sys.exit(130)

    return wrapper


def api_client(token_required: bool = False) -> ApiClient:
    config = load_config()
    if token_required and not config.token:
        raise UsageError("no token: run 'regctl login' or set REGCTL_TOKEN", code="NO_TOKEN")
    return ApiClient(config.url, config.token)
