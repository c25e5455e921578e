"""How `etl` fails: one or two lines on stderr (what went wrong, what to do), exit code 1.

The traceback, and the Dagster event log of a run a command makes, are printed only with `--verbose` or
ETL_DEBUG=1. Every URL in an error is masked as `etl db-url` masks it (redact_url).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Callable

from etl_project.resources.postgres import redact_url

DEBUG_ENV = "ETL_DEBUG"
#: A URL with user info (`scheme://user:password@host...`), wherever it appears in a message.
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


class CommandError(Exception):
    """An expected failure of a command: `message` says what went wrong, `hint` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def debug_requested(args: argparse.Namespace | None = None) -> bool:
    """--verbose on the command line, or ETL_DEBUG set to anything but empty, 0, false or no."""
    if args is not None and getattr(args, "verbose", False):
        return True
    return os.getenv(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def mask_urls(text: str) -> str:
    """`text` with the password of every URL (and every `password=` setting) in it masked."""
    return redact_url(_URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text))


def one_line(text: str) -> str:
    """The first non-empty line of `text`, masked (an error's first line says what happened)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return mask_urls(lines[0] if lines else "")


def _hint_for(err: BaseException) -> str:
    import psycopg2  # the commands import it anyway; here only to recognise its errors

    if isinstance(err, psycopg2.OperationalError):
        return "is the ETL database up? `etl db-url` shows the one in use"
    return ""


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one command; an error becomes its one or two lines on stderr and exit code 1."""
    command = getattr(args, "command_name", None) or "etl"
    debug = debug_requested(args)
    try:
        return func(args)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except CommandError as err:
        if debug:
            traceback.print_exc()
        print(f"{command}: {one_line(err.message)}", file=sys.stderr)
        if err.hint:
            print(f"  {mask_urls(err.hint)}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - every other error: one line, the traceback on request
        if debug:
            traceback.print_exc()
        what = one_line(str(err)) or "(no message)"
        print(f"{command}: {type(err).__name__}: {what}", file=sys.stderr)
        hints = [_hint_for(err)] + ([] if debug else [f"--verbose or {DEBUG_ENV}=1 shows the traceback"])
        print("  " + "; ".join(h for h in hints if h), file=sys.stderr)
        return 1


def dagster_console_config(args: argparse.Namespace) -> dict:
    """Run config for a job a command runs in its own process: Dagster's console log only when debugging (the
    run's events are stored in the instance either way, and the UI shows them)."""
    level = "DEBUG" if debug_requested(args) else "CRITICAL"
    return {"loggers": {"console": {"config": {"log_level": level}}}}
