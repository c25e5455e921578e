"""store_daily_sales: daily sales per store built on the event tables. What keeps it current is the change log
(pending_refresh.py), not an automation condition: a refresh's own materialisation could cancel one.
"""

import dagster as dg
from pydantic import Field

from etl_project.defs.sales_analytics.refresh_result import STORE_DAILY_SALES_DEPS, refresh
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.resources import EtlDatabase

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
    deps=STORE_DAILY_SALES_DEPS,
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
        metadata, version = refresh(
            conn, sales_drop_rules, context.run.tags, context.log, config.full_rebuild
        )
    return dg.MaterializeResult(metadata=metadata, data_version=version)
