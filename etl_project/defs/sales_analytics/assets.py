"""store_daily_sales: daily sales per store built on the event tables. What keeps it current is the change log
(pending_refresh.py), not an automation condition: a refresh's own materialisation could cancel one.
"""

import dagster as dg
from pydantic import Field

from etl_project.analytics import refresh_store_daily_sales
from etl_project.analytics.extent import store_daily_sales_extent
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.resources import EtlDatabase
from etl_project.sales_drop.judged_window import judged_window
from etl_project.sales_drop.rule import judged_day

ANALYTICS_GROUP = "analytics"


class StoreDailySalesConfig(dg.Config):
    """How to refresh store_daily_sales (set in the launchpad when materialising it by hand)."""

    full_rebuild: bool = Field(
        default=False,
        description=(
            "Rebuild the whole table from etl.sales (seconds per million sales) instead of recomputing only "
            "the store-days changed since the last refresh. `etl rebuild-analytics` does the same."
        ),
    )


@dg.asset(
    deps=["sales", "products"],
    group_name=ANALYTICS_GROUP,
    kinds={"postgres"},
    metadata={"dagster/table_name": "etl.store_daily_sales"},
)
def store_daily_sales(
    context: dg.AssetExecutionContext,
    config: StoreDailySalesConfig,
    etl_database: EtlDatabase,
    sales_drop_rules: SalesDropRules,
) -> dg.MaterializeResult:
    """Each store's sales amount per day: sum of quantity x product price, by store id and sale day.

    Refreshed incrementally: only the store-days that loads, reloads and replays changed since the last refresh
    are recomputed (a full rebuild on request). The metadata says which kind ran and how many store-days.
    The data version fingerprints what sales_drop_check judges (the as-of day, its rows and those of the 7 days
    before it, the stores, the rule): it changes only when the verdict may change, and only then does the check
    run again.
    """
    with etl_database.connect() as conn:
        report = refresh_store_daily_sales(conn, full=config.full_rebuild)
        window = judged_window(conn, sales_drop_rules, judged_day(context.run.tags, sales_drop_rules))
        table = store_daily_sales_extent(conn)
    days = f", {report.first_day} to {report.last_day}" if report.first_day else ""
    context.log.info(f"store_daily_sales: {report.kind} refresh of {report.store_days} store-days{days}")
    metadata: dict[str, str | int] = {
        "refresh_kind": report.kind,
        "store_days_refreshed": report.store_days,
        "changes_consumed": report.changes_consumed,
        "sales_drop_as_of_date": str(window.as_of),
        "sales_drop_window_store_days": window.rows,
    }
    if report.first_day is not None:  # the days this refresh recomputed, not the table's
        metadata |= {"refreshed_first_day": str(report.first_day), "refreshed_last_day": str(report.last_day)}
    # the whole table after the refresh
    metadata |= {"dagster/row_count": table.store_days, "table_store_days": table.store_days}
    if table.first_day is not None:
        metadata |= {"table_first_day": str(table.first_day), "table_last_day": str(table.last_day)}
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(window.fingerprint))
