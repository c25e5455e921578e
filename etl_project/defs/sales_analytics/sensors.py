"""The sensors of sales analytics.

- analytics_automation_sensor evaluates the automation condition of sales_drop_check (evaluated, in a run of
  its own, when a refresh changed what it judges); store_daily_sales itself is refreshed for what is pending
  in its change log (pending_refresh.py).
- sales_drop_slack_sensor queues final verdicts of sales_drop_check in the alert outbox (alert_delivery_sensor
  sends them): each (store, day) once, and a day without any sales data once.
"""

from typing import Any

import dagster as dg

from etl_project.alerting.messages import CHECK_PATH
from etl_project.alerting.producers import queue_sales_verdict
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.tick_reports import report_tick
from etl_project.resources import EtlDatabase

#: How often sales_drop_check's condition is evaluated and new verdicts posted.
ANALYTICS_TICK_SECONDS = 10

#: Dagster's implicit default automation sensor starts stopped; this one runs as soon as the platform does.
#: `use_user_code_server` is a beta parameter in 1.13 (its warning is silenced in definitions.py); it is needed
#: (see below).
analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_automation_sensor",
    # its check, sales_drop_check (the asset itself has no condition)
    target=dg.AssetSelection.assets(store_daily_sales),
    default_status=dg.DefaultSensorStatus.RUNNING,
    # Each wait for this tick is on the path from a late batch to its alert (twice: the refresh, then the
    # check's own run); a tick evaluates two conditions, a fraction of a second.
    minimum_interval_seconds=ANALYTICS_TICK_SECONDS,
    emit_backfills=False,
    # Evaluated by the sensor daemon in the code server, whose run submission keeps a refresh's empty check
    # list: the asset daemon's (dagster 1.13.27, submit_asset_runs.py) turns [] into "all the asset's checks",
    # so sales_drop_check would ride along with every refresh despite its own automation condition.
    use_user_code_server=True,
    description=(
        "Runs sales_drop_check after a refresh of store_daily_sales that changed the days it judges (yesterday "
        "and the 7 days before) or its rule."
    ),
)

#: Most recent evaluations looked at per tick; older ones were handled by earlier ticks.
EVALUATIONS_PER_TICK = 50
SALES_DROP_CHECK_KEY = next(iter(sales_drop_check.check_keys))


def _final_failed_evaluations(instance: dg.DagsterInstance) -> list[tuple[str, dict[str, Any]]]:
    """(evaluation key, metadata) of recent failed evaluations whose day was due, oldest first."""
    records = instance.event_log_storage.get_asset_check_execution_history(
        SALES_DROP_CHECK_KEY, limit=EVALUATIONS_PER_TICK
    )
    failed = []
    for record in reversed(records):
        # Planned (in progress, or never run because the asset failed) and passed evaluations send nothing.
        if record.status.value != "FAILED" or record.event is None or record.event.dagster_event is None:
            continue
        evaluation = record.event.dagster_event.asset_check_evaluation_data
        metadata = {k: v.value for k, v in evaluation.metadata.items()}
        if metadata.get("verdict_final", True):  # provisional: the day is not over, or not yet judged
            failed.append((f"{record.run_id}/{record.id}", metadata))
    return failed


def _flagged_stores(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the evaluation's `flagged_stores` table."""
    flagged = metadata.get("flagged_stores")
    return [dict(record.data) for record in getattr(flagged, "records", None) or []]


@dg.sensor(
    name="sales_drop_slack_sensor",
    minimum_interval_seconds=ANALYTICS_TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Queues a Slack alert for each failed final sales_drop_check evaluation, naming the stores not "
    "alerted yet for that day (alert_delivery_sensor sends it).",
)
def sales_drop_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Queues each final verdict of sales_drop_check: the stores not announced yet for that day, or "no sales
    data for <day>". A day is final from its scheduled verdict time (daily_sales_verdict_schedule); earlier
    evaluations announce nothing. What was queued is recorded in PostgreSQL, so restarts and re-evaluations
    never repeat an alert.
    """
    destinations = alert_channel.destinations()
    link = alert_channel.link(CHECK_PATH)
    queued = 0
    with etl_database.connect() as conn:
        for evaluation_key, metadata in _final_failed_evaluations(context.instance):
            with conn, conn.cursor() as cur:
                queued += queue_sales_verdict(
                    cur, evaluation_key, metadata, _flagged_stores(metadata), link, destinations
                )
    report_tick(context, f"queued {queued} sales alert(s)" if queued else None)
    return dg.SkipReason(f"{queued} sales alert(s) queued")
