"""Evaluates the analytics assets' automation conditions, so store_daily_sales follows new sales by itself."""

import dagster as dg

from etl_project.assets.analytics import store_daily_sales

#: Dagster's implicit default automation sensor starts stopped; this one runs as soon as the platform does.
analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_automation_sensor",
    target=dg.AssetSelection.assets(store_daily_sales),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    emit_backfills=False,
    description="Refreshes store_daily_sales (and runs sales_drop_check) when new sales or products land.",
)
