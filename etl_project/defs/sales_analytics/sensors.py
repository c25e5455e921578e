"""The sensors of sales analytics.

- analytics_automation_sensor evaluates the automation conditions of store_daily_sales (refreshed when sales or
  products change) and of sales_drop_check (evaluated, in a run of its own, when a refresh changed what it
  judges), so both follow new sales by themselves.
- sales_drop_slack_sensor posts final verdicts of sales_drop_check through the alert outbox: each (store,
  day) once, and a day without any sales data once.
"""

import warnings

import dagster as dg
import psycopg2.extensions

from etl_project.defs.alerting.outbox import deliver_pending, enqueue_alert
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.sales_drop_message import (
    CHECK_PATH,
    no_sales_data_message,
    sales_drop_message,
)
from etl_project.resources import EtlDatabase
from etl_project.store import sales_drop_alerts

#: How often store_daily_sales' and sales_drop_check's conditions are evaluated and new verdicts posted.
ANALYTICS_TICK_SECONDS = 10

#: Dagster's implicit default automation sensor starts stopped; this one runs as soon as the platform does.
#: `use_user_code_server` is a beta parameter in 1.13 and warns each time the definitions load; it is needed
#: (see below), so that one warning is silenced here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
        "analytics_automation_sensor",
        target=dg.AssetSelection.assets(store_daily_sales),  # with its check, sales_drop_check
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
            "Refreshes store_daily_sales when new sales or products land, and runs sales_drop_check after a refresh "
            "that changed the days it judges (yesterday and the 7 days before) or its rule."
        ),
    )

#: Most recent evaluations looked at per tick; older ones were handled by earlier ticks.
EVALUATIONS_PER_TICK = 50
SALES_DROP_CHECK_KEY = next(iter(sales_drop_check.check_keys))


def _final_failed_evaluations(instance: dg.DagsterInstance) -> list[tuple[str, dict]]:
    """(evaluation key, metadata) of recent failed evaluations whose day was due, oldest first."""
    records = instance.event_log_storage.get_asset_check_execution_history(
        SALES_DROP_CHECK_KEY, limit=EVALUATIONS_PER_TICK
    )
    failed = []
    for record in reversed(records):
        # Planned (in progress, or never run because the asset failed) and passed evaluations send nothing.
        if record.status.value != "FAILED" or record.event is None:
            continue
        evaluation = record.event.dagster_event.asset_check_evaluation_data
        metadata = {k: v.value for k, v in evaluation.metadata.items()}
        if metadata.get("verdict_final", True):  # provisional: the day is not over, or not yet judged
            failed.append((f"{record.run_id}/{record.id}", metadata))
    return failed


def _queue_verdict(
    cur: psycopg2.extensions.cursor,
    evaluation_key: str,
    metadata: dict,
    channel: AlertChannel,
    destinations: list[str],
) -> bool:
    """Queue the message of one final failed evaluation, if it says anything not said before."""
    as_of = metadata["as_of_date"]
    link = channel.link(CHECK_PATH)
    if metadata.get("no_sales_data"):
        message = no_sales_data_message(as_of, link)
        return (
            enqueue_alert(cur, f"sales_no_data:{as_of}", "sales_no_data", message, destinations, as_of)
            is not None
        )
    flagged = metadata.get("flagged_stores")
    stores = [record.data for record in getattr(flagged, "records", None) or []]
    done = sales_drop_alerts.announced(cur, as_of, [s["id"] for s in stores])
    new = [s for s in stores if s["id"] not in done]
    if not new:
        return False
    threshold = float(metadata["rule"]["threshold_percent"])
    message = sales_drop_message(as_of, new, threshold, link)
    message_id = enqueue_alert(
        cur, f"sales_drop:{evaluation_key}", "sales_drop", message, destinations, as_of
    )
    if message_id is None:
        return False
    sales_drop_alerts.record_announced(cur, as_of, [s["id"] for s in new], message_id)
    return True


@dg.sensor(
    name="sales_drop_slack_sensor",
    minimum_interval_seconds=ANALYTICS_TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each failed sales_drop_check evaluation to Slack, naming the stores not alerted yet "
    "for that day; a message Slack refused is retried on the next tick.",
)
def sales_drop_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Posts each final verdict of sales_drop_check to Slack: the stores not announced yet for that day, or
    "no sales data for <day>". A day is final from its scheduled verdict time (daily_sales_verdict_schedule);
    earlier evaluations announce nothing. What was sent is recorded in PostgreSQL, so restarts and
    re-evaluations never repeat an alert, and a message Slack refused is retried on the next tick.
    """
    messengers = alert_channel.messengers(context.log)
    destinations = [m.name for m in messengers]
    queued = 0
    with etl_database.connect() as conn:
        for evaluation_key, metadata in _final_failed_evaluations(context.instance):
            with conn, conn.cursor() as cur:
                queued += _queue_verdict(cur, evaluation_key, metadata, alert_channel, destinations)
        report = deliver_pending(conn, messengers)
    if report.last_error:
        context.log.warning(f"Alert delivery failed, will retry next tick: {report.last_error}")
    return dg.SkipReason(f"{queued} sales alert(s) queued; {report.summary()}")
