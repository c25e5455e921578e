"""`etl`: the platform's command line (run it as `.venv/bin/etl` or `python -m etl_project.cli`).

etl dev                 start PostgreSQL, migrate, seed sample history, run `dg dev` (UI, daemon, sensors)
etl db-url              start the embedded PostgreSQL if needed and print the ETL database URL
etl db-stop             stop the embedded PostgreSQL
etl migrate             apply the SQL migrations of etl_db/migrations
etl adopt-legacy        convert a legacy pipeline's database in place, once (one transaction, no row lost)
etl generate            write one realistic batch file, ids reserved from the database (--events N: a large one)
etl generate-history    write several days of batches with a sales drop on the last day
etl status              the last 24 hours: files loaded, rows, rejects by reason, quarantined files, pending alerts
etl quarantine          list files that could not be read; retry (once fixed) or drop one
etl rebuild-analytics   rebuild store_daily_sales from all sales (refreshes are otherwise incremental)

Each command lives in a module of this package with a `register(subparsers)` function; a new command is a new
module added to COMMAND_MODULES. Every option needs help text; its default is appended to it (HelpWithDefaults).
A command's one-line help is its description too, unless it gives a longer one. Errors are one or two lines
(errors.py); `--verbose` or ETL_DEBUG=1 adds the traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from etl_project.cli import analytics, database, dev, generate, quarantine, status
from etl_project.cli.errors import DEBUG_ENV, run_command

COMMAND_MODULES = [dev, database, generate, status, quarantine, analytics]


class HelpWithDefaults(argparse.HelpFormatter):
    """Appends each option's default to its help, unless the help already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.nargs == 0:  # a flag
            return f"{text} (default: {'on' if action.default else 'off'})"
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etl",
        description="The platform's command line. `etl COMMAND --help` describes a command and its options.",
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for module in COMMAND_MODULES:
        module.register(sub)
    for command in subcommands(parser):
        command.formatter_class = HelpWithDefaults
        # argparse's default would override a --verbose given before the command: only an explicit one counts
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        command.set_defaults(command_name=command.prog)
    _describe_by_help(parser)
    return parser


VERBOSE_HELP = (
    f"on an error, print the traceback and Dagster's run log too (default: off; or set {DEBUG_ENV}=1)"
)


def _describe_by_help(parser: argparse.ArgumentParser) -> None:
    """A command without a description of its own shows its one-line help under `etl COMMAND --help`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for listed in action._choices_actions:
                command = action.choices[listed.dest]
                if not command.description and listed.help:
                    command.description = listed.help[0].upper() + listed.help[1:] + "."
                _describe_by_help(command)


def subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every command of `parser`, nested ones too (`etl quarantine retry`); `.prog` is its full name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                yield command
                yield from subcommands(command)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args.func, args)
