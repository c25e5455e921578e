"""`etl`: the platform's command line (run it as `.venv/bin/etl` or `python -m etl_project.cli`).

etl dev                 start PostgreSQL, migrate, seed sample history, run `dagster dev`
etl db-url              start the embedded PostgreSQL if needed and print the ETL database URL
etl db-stop             stop the embedded PostgreSQL
etl migrate             apply the SQL migrations of etl_db/migrations
etl adopt-legacy        convert a legacy pipeline's database in place, once (one transaction, no row lost)
etl generate            write one realistic batch file (or a large one with --events)
etl generate-history    write several days of batches with a sales drop on the last day
etl rebuild-analytics   rebuild store_daily_sales from all sales (refreshes are otherwise incremental)

Each command lives in a module of this package with a `register(subparsers)` function; a new command is a new
module added to COMMAND_MODULES.
"""

from __future__ import annotations

import argparse

from etl_project.cli import analytics, database, dev, generate

COMMAND_MODULES = [dev, database, generate, analytics]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etl",
        description=__doc__.split("\n\nEach command")[0],
        formatter_class=argparse.RawTextHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
