"""store_daily_sales: daily sales per store built on the event tables, and the automation condition that keeps
it current (evaluated by analytics_automation_sensor in sensors.py).
"""

import dagster as dg

from etl_project.queries import analytic_query
from etl_project.resources import EtlDatabase

ANALYTICS_GROUP = "analytics"

#: Refresh whenever sales or products change. Unlike plain eager(), do not wait for every batch partition to
#: exist or for loads in progress to finish: a failed batch or a steady stream of batches would otherwise
#: keep the table stale forever.
REFRESH_ON_NEW_SALES = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .without(~dg.AutomationCondition.any_deps_in_progress())
    .with_label("refresh when sales or products change")
)


@dg.asset(
    deps=["sales", "products"],
    group_name=ANALYTICS_GROUP,
    kinds={"postgres"},
    automation_condition=REFRESH_ON_NEW_SALES,
    metadata={"dagster/table_name": "etl.store_daily_sales"},
)
def store_daily_sales(context: dg.AssetExecutionContext, etl_database: EtlDatabase) -> dg.MaterializeResult:
    """Each store's sales amount per day: sum of quantity x product price, by store id and sale_date.

    Rebuilt in one transaction whenever new sales land; the sales-drop check reads it.
    """
    with etl_database.connect() as conn, conn, conn.cursor() as cur:
        cur.execute(analytic_query("refresh_store_daily_sales"))
        cur.execute(
            "SELECT count(*), count(DISTINCT store_id), min(sale_date), max(sale_date), coalesce(sum(amount), 0) "
            "FROM etl.store_daily_sales"
        )
        rows, stores, first_day, last_day, total = cur.fetchone()
    context.log.info(f"store_daily_sales: {rows} store-days for {stores} stores, {first_day} to {last_day}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "stores": stores,
            "first_sale_date": str(first_day),
            "last_sale_date": str(last_day),
            "total_amount": float(total),
        }
    )
