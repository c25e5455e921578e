"""The sensors of sales analytics and alerting.

- analytics_automation_sensor evaluates store_daily_sales' automation condition, so the table (and with it
  sales_drop_check) follows new sales by itself.
- sales_drop_slack_sensor posts failed evaluations of sales_drop_check to the alert channel (Slack), each
  (store, day) once.
"""

import dagster as dg

from etl_project.defs.sales_analytics.alert_outbox import (
    already_alerted,
    deliver_pending,
    enqueue_sales_drop_alert,
)
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.resources import AlertChannel
from etl_project.defs.sales_analytics.sales_drop_message import sales_drop_message
from etl_project.resources import EtlDatabase

#: Dagster's implicit default automation sensor starts stopped; this one runs as soon as the platform does.
analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_automation_sensor",
    target=dg.AssetSelection.assets(store_daily_sales),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    emit_backfills=False,
    description="Refreshes store_daily_sales (and runs sales_drop_check) when new sales or products land.",
)

#: Most recent evaluations looked at per tick; older ones were handled by earlier ticks.
EVALUATIONS_PER_TICK = 50
SALES_DROP_CHECK_KEY = next(iter(sales_drop_check.check_keys))


def _failed_evaluations(instance: dg.DagsterInstance) -> list[tuple[str, dict]]:
    """(evaluation key, metadata) of recent failed evaluations, oldest first."""
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
        failed.append((f"{record.run_id}/{record.id}", metadata))
    return failed


@dg.sensor(
    name="sales_drop_slack_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each failed sales_drop_check evaluation to Slack, naming the stores not alerted yet "
    "for that day; a message Slack refused is retried on the next tick.",
)
def sales_drop_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Sends one message per failed sales_drop_check evaluation naming the stores not alerted yet that day.

    What was sent is recorded in PostgreSQL (utilities.sales_drop_alerts, utilities.alert_outbox), so restarts
    and re-evaluations never repeat an alert, and a message Slack refused is retried on the next tick.
    Without Slack settings the message is logged instead (dry run).
    """
    messenger = alert_channel.messenger(context.log)
    queued = 0
    with etl_database.connect() as conn:
        for evaluation_key, metadata in _failed_evaluations(context.instance):
            as_of = metadata["as_of_date"]
            stores = [s for s in metadata.get("flagged_stores") or [] if isinstance(s, dict)]
            done = already_alerted(conn, as_of, [s["store_id"] for s in stores])
            new = [s for s in stores if s["store_id"] not in done]
            if not new:
                continue
            message = sales_drop_message(
                as_of, new, float(metadata["threshold_percent"]), alert_channel.dagster_webserver_url
            )
            if enqueue_sales_drop_alert(conn, evaluation_key, as_of, [s["store_id"] for s in new], message):
                queued += 1
        report = deliver_pending(conn, messenger)
    if report.last_error:
        context.log.warning(f"Alert delivery failed, will retry next tick: {report.last_error}")
    return dg.SkipReason(
        f"{queued} alert(s) queued, {report.delivered} delivered via {messenger.name}, {report.pending} pending"
        + (f"; last error: {report.last_error}" if report.last_error else "")
    )
