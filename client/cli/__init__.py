"""regctl: the command line of the Reproducibility Registry.

Exit codes: 0 success; 1 a claim did not hold; 2 integrity failure (hash or size mismatch); 3 the evaluation
failed; 4 usage or invalid input (an unknown command or option, a missing argument, a bad value, an invalid
regctl.yaml or REGCTL_URL); 5 cannot reach the registry; 6 not authorised; 7 not found; 8 conflict (e.g. the
version exists with other content); 9 the registry failed (or regctl itself did); 130 interrupted (Ctrl-C).
Every error is one line on stderr (or a JSON error with --json); REGCTL_DEBUG=1 adds the traceback of an
unexpected one.
"""

# Ctrl-C while regctl is still starting (importing) ends it like Ctrl-C anywhere else: one line, exit 130.
import os
import signal
import sys
import threading


def _interrupted_while_starting(signum, frame):  # pragma: no cover - timing
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    os._exit(130)


# only where Ctrl-C would raise KeyboardInterrupt anyway (not where it is ignored, or handled by someone else)
_GUARD_START = (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
if _GUARD_START:
    signal.signal(signal.SIGINT, _interrupted_while_starting)

import errno  # noqa: E402
import importlib  # noqa: E402
import pkgutil  # noqa: E402

import click  # noqa: E402

from regctl.cli.common import INTERRUPTED, CommandGroup, report_failure  # noqa: E402
from regctl.config import url_for_this_run  # noqa: E402
from regctl.errors import EXIT_INTERRUPTED, EXIT_SERVER, EXIT_USAGE, Interrupted, RegctlError  # noqa: E402

#: each command's line in ``regctl --help`` (a command's own short help is kept when it states one that fits)
SHORT_HELP = {
    "badge": "Print Markdown and HTML badge snippets for a version.",
    "check": "Validate a folder without publishing; show what push does.",
    "init": "Write a commented regctl.yaml for a folder, to fill in.",
    "keys": "Create and list the keys that sign your verification reports.",
    "login": "Check a token against the registry and save it.",
    "pull": "Download a version and check every file's size and SHA-256.",
    "push": "Validate a folder, upload what is new, publish the version.",
    "show": "Show a version: files, claims, verifications, badges.",
    "venue": "Manage a venue's artifact-evaluation committee (chairs).",
    "verify": "Re-run a version's evaluation and judge every claim.",
    "yank": "Mark a version as not to be used (it stays resolvable).",
}

EPILOG = """\b
Example:
  export REGCTL_URL=http://127.0.0.1:8080 REGCTL_TOKEN=rrt_...
  regctl push examples/hello    # publish what examples/hello/regctl.yaml says
  regctl verify demo/hello      # pull, re-run the evaluation, judge each claim
  regctl pull demo/hello@1.0.0 -o /tmp/hello

\b
Exit codes:
  0 success            1 a claim did not hold    2 integrity failure (hash or size)
  3 evaluation failed  4 usage or invalid input  5 cannot reach the registry
  6 not authorised     7 not found               8 conflict (e.g. version exists)
  9 the registry (or regctl) failed              130 interrupted (Ctrl-C)

Each command has its own --help, e.g. 'regctl push --help'."""


class RegctlGroup(CommandGroup):
    """regctl's command group: every way a run can end becomes one line on stderr and a documented exit code.

    click itself exits 2 on a usage error (here 2 means an integrity failure) and 1 when interrupted (here 1 means a
    claim did not hold), so regctl runs click in non-standalone mode and decides the codes itself."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        # Run as the program (arguments from the command line): an unexpected error is one line, and an interrupt
        # ends the process at once, without waiting for transfers in flight. Called with arguments (embedded, or a
        # test), those are left to the caller.
        as_program = args is None
        try:
            try:
                code = super().main(args, prog_name or "regctl", complete_var, standalone_mode=False, **extra)
            except click.exceptions.NoArgsIsHelpError as err:
                click.echo(err.ctx.get_help() if err.ctx else self.get_help(click.Context(self)))
                code = 0
            except click.UsageError as err:
                report_failure(_usage_line(err))
                code = EXIT_USAGE
            except (click.Abort, Interrupted):  # Ctrl-C in a command, or at a prompt (or end of its input)
                raise KeyboardInterrupt from None
            except click.ClickException as err:
                report_failure(f"error: {_first_lower(err.format_message())}")
                code = EXIT_USAGE
            except RegctlError as err:  # raised before a command's own handler, e.g. by --url
                report_failure(f"error: {err.message}")
                code = err.exit_code
            except OSError as err:
                code = _os_error(err)
            except Exception as err:
                if not as_program or os.environ.get("REGCTL_DEBUG"):
                    raise
                report_failure(f"error: regctl failed unexpectedly: {type(err).__name__}: {err} "
                               "(REGCTL_DEBUG=1 shows where)")
                code = EXIT_SERVER
        except KeyboardInterrupt:
            report_failure(INTERRUPTED)
            if as_program:
                _flush()
                os._exit(EXIT_INTERRUPTED)
            code = EXIT_INTERRUPTED
        sys.exit(code if isinstance(code, int) else 0)


def _first_lower(text: str) -> str:
    """click's messages start with a capital ('No such command'); regctl's errors read 'error: no such ...'."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _usage_line(err: click.UsageError) -> str:
    message = " ".join(_first_lower(err.format_message()).split()).removesuffix(".")
    command = err.ctx.command_path if err.ctx is not None else "regctl"
    return f"error: {message} (see '{command} --help')"


def _os_error(err: OSError) -> int:
    if err.errno == errno.EPIPE:  # the reader went away (regctl show ... | head): nothing more can be said
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter closes it at exit
        return 141  # as for a process ended by SIGPIPE
    where = f": {err.filename}" if err.filename else ""
    report_failure(f"error: {err.strerror or err}{where}")
    return EXIT_USAGE


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


@click.group(cls=RegctlGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(package_name="reproducibility-registry", prog_name="regctl")
@click.option("--url", metavar="URL", default=None,
              help="The registry's address for this command, e.g. http://127.0.0.1:8080 (overrides REGCTL_URL and "
                   "the address 'regctl login' saved).")
@click.pass_context
def main(ctx: click.Context, url: str | None):
    """Push, pull and check machine-learning artifacts and their claims. Reads REGCTL_URL and REGCTL_TOKEN, or
    what 'regctl login' saved."""
    ctx.with_resource(url_for_this_run(url))


def _commands() -> list[click.Command]:
    """The top-level commands of the modules of this package: every click command defined at module level that is
    not a subcommand of one of their groups."""
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
               if info.name != "common"]
    found = [value for module in modules for value in vars(module).values() if isinstance(value, click.Command)]
    nested = {id(sub) for value in found if isinstance(value, click.Group) for sub in value.commands.values()}
    unique = {id(command): command for command in found if id(command) not in nested}
    return sorted(unique.values(), key=lambda command: command.name)


for _command in _commands():
    if _command.name in SHORT_HELP and (not _command.short_help or len(_command.short_help) > 64):
        _command.short_help = SHORT_HELP[_command.name]
    main.add_command(_command)

if _GUARD_START:
    signal.signal(signal.SIGINT, signal.default_int_handler)

if __name__ == "__main__":  # pragma: no cover
    main()
