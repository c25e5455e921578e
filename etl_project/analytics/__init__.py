"""Analytics maintained from the event tables, Dagster-free: the asset, `etl rebuild-analytics`, the benchmark
and the tests call the same refresh."""

from etl_project.analytics.refresh import RefreshReport, refresh_store_daily_sales

__all__ = ["RefreshReport", "refresh_store_daily_sales"]
