"""daily_sales_verdict_schedule and its job: the daily verdict on yesterday's sales (see verdict.py)."""

import dagster as dg

from etl_project.defs.ingestion.integrity import references_valid
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.refresh_result import REFRESHES_TAG
from etl_project.defs.sales_analytics.resources import verdict_schedule_from_env
from etl_project.sales_drop.rule import AS_OF_TAG, day_judged_at

daily_sales_verdict_job = dg.define_asset_job(
    "daily_sales_verdict_job",
    # store_daily_sales with its check, sales_drop_check; and the daily look at every sale's references
    selection=dg.AssetSelection.assets(store_daily_sales) | dg.AssetSelection.checks(references_valid),
    tags=REFRESHES_TAG,  # pending_sales_refresh_sensor leaves what is pending to this run's refresh
    description=(
        "Refreshes store_daily_sales and evaluates sales_drop_check for one day (the run's "
        "etl/sales_drop_as_of tag; default yesterday), and references_valid on every sale. Run by "
        "daily_sales_verdict_schedule."
    ),
)


@dg.definitions
def daily_verdict() -> dg.Definitions:
    cron, timezone = verdict_schedule_from_env()

    @dg.schedule(
        name="daily_sales_verdict_schedule",
        cron_schedule=cron,
        execution_timezone=timezone,
        job=daily_sales_verdict_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Judges yesterday's sales at '{cron}' ({timezone}), whether or not new data arrived: "
            "sales_drop_check names the stores that fell, or reports a day without any sales data; "
            "sales_drop_slack_sensor posts the verdict."
        ),
    )
    def daily_sales_verdict_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = day_judged_at(context.scheduled_execution_time, timezone).isoformat()
        return dg.RunRequest(run_key=f"verdict-{day}", tags={AS_OF_TAG: day})

    return dg.Definitions(jobs=[daily_sales_verdict_job], schedules=[daily_sales_verdict_schedule])
