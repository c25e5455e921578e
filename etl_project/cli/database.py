"""The database commands: `etl db-url`, `etl db-stop`, `etl migrate`, `etl adopt-legacy`."""

import argparse
import os
import sys

from etl_project.cli.settings import etl_database_url, migrate
from etl_project.database.embedded import stop_embedded_server
from etl_project.database.legacy_adoption import (
    AdoptionError,
    NotLegacyDatabaseError,
    adopt_legacy_database_at,
)
from etl_project.resources.postgres import redact_url


def cmd_db_url(args: argparse.Namespace) -> int:
    """The URL with its password masked, as `etl status` prints it; `--show-password` for a tool that needs it."""
    url = etl_database_url()
    print(url if args.show_password else redact_url(url))
    return 0


def cmd_db_stop(args: argparse.Namespace) -> int:
    print(
        "Stopped the embedded PostgreSQL."
        if stop_embedded_server()
        else "The embedded PostgreSQL was not running."
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate()
    print(f"Schema up to date in {redact_url(etl_database_url())}")
    return 0


def cmd_adopt_legacy(args: argparse.Namespace) -> int:
    """Convert the legacy pipeline's tables in place (the platform refuses to migrate them until then).

    Connects without migrating (that is what refuses) and reads the legacy naive timestamps in ETL_TIMEZONE.
    """
    url = etl_database_url()
    print(f"ETL database: {redact_url(url)}")
    try:
        report = adopt_legacy_database_at(url, os.getenv("ETL_TIMEZONE") or "UTC")
    except NotLegacyDatabaseError as err:
        print(err)
        return 0 if err.already_adopted else 1
    except AdoptionError as err:
        print(f"etl adopt-legacy: {err}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    db_url = sub.add_parser("db-url", help="print the ETL database URL (password masked)")
    db_url.add_argument(
        "--show-password",
        action="store_true",
        help="print the password too (it then shows on the screen and in the shell's scrollback)",
    )
    db_url.set_defaults(func=cmd_db_url)
    sub.add_parser("db-stop", help="stop the embedded PostgreSQL").set_defaults(func=cmd_db_stop)
    sub.add_parser(
        "migrate",
        help="apply the SQL migrations of etl_db/migrations (every process also does on connecting)",
    ).set_defaults(func=cmd_migrate)
    sub.add_parser(
        "adopt-legacy",
        help="convert a legacy pipeline's database in place, once: every row and id kept, one transaction",
    ).set_defaults(func=cmd_adopt_legacy)
