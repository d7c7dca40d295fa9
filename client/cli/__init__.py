"""regctl: the command line of the Reproducibility Registry.

Exit codes: 0 success; 1 a claim did not hold; 2 integrity failure (hash or size mismatch);
3 the evaluation failed; 4 usage or invalid input; 5 cannot reach the registry; 6 not authorised;
7 not found; 8 conflict (e.g. the version exists with other content); 9 the registry failed.
"""

import sys

import click

from regctl.cli import authoring, reading, signing, venues, verifying


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=__doc__.split("\n\n", 1)[1])
@click.version_option(package_name="reproducibility-registry", prog_name="regctl")
def main():
    """Push, pull and check machine-learning artifacts. Reads REGCTL_URL and REGCTL_TOKEN, or what
    'regctl login' saved."""


for command in (authoring.push, reading.pull, reading.show, authoring.yank, authoring.login, verifying.verify,
                signing.keys_group, reading.badge, venues.venue_group):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
