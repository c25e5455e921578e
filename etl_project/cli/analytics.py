"""The analytics command: `etl rebuild-analytics`."""

import argparse

from etl_project.analytics import refresh_store_daily_sales
from etl_project.cli.settings import etl_database


def cmd_rebuild_analytics(args: argparse.Namespace) -> int:
    """Rebuild store_daily_sales from all of etl.sales now (the refreshes after it are incremental again)."""
    with etl_database().connect() as conn:
        report = refresh_store_daily_sales(conn, full=True)
    days = f", {report.first_day} to {report.last_day}" if report.first_day else ""
    print(f"Rebuilt etl.store_daily_sales: {report.store_days} store-days{days}.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rebuild-analytics",
        help="rebuild store_daily_sales from all sales (refreshes are otherwise incremental)",
        description=(
            "Rebuild etl.store_daily_sales and the quantities per store, day and product behind it from all of "
            "etl.sales, in one transaction (readers see the old table until it commits). Refreshes are "
            "incremental otherwise; use this after changing ETL_TIMEZONE or editing etl.sales by hand."
        ),
    )
    parser.set_defaults(func=cmd_rebuild_analytics)
