"""check_failure_slack_sensor: any asset check whose spec carries `"etl/alert_on_failure": True` (the per-batch
data-quality checks, references_valid) queues its failures, once per check, partition and episode."""

import dagster as dg

from etl_project.alerting.evaluations import ALERT_ON_FAILURE
from etl_project.alerting.producers import queue_check_failures
from etl_project.defs.alerting.check_evaluations import evaluations_after
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.tick_reports import cursor_state, report_tick
from etl_project.resources import EtlDatabase


def alerting_check_keys(repository: dg.RepositoryDefinition) -> list[dg.AssetCheckKey]:
    graph = repository.asset_graph
    return sorted(
        (key for key in graph.asset_check_keys if graph.get_check_spec(key).metadata.get(ALERT_ON_FAILURE)),
        key=lambda key: key.to_user_string(),
    )


@dg.sensor(
    name="check_failure_slack_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Queues a Slack alert when a data-quality check marked etl/alert_on_failure fails (rows not accounted "
        "for, too many rejected rows): once per check and batch until it passes again."
    ),
)
def check_failure_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Reads new evaluations of the alerting checks and queues the episodes they open, in one transaction
    (alert_delivery_sensor sends them). The cursor keeps the last evaluation read."""
    check_keys = alerting_check_keys(context.repository_def) if context.repository_def else []
    if not check_keys:
        return dg.SkipReason("no check is marked etl/alert_on_failure; nothing to watch")
    after = int(cursor_state(context.cursor) or 0)
    evaluations = evaluations_after(context.instance, check_keys, after)
    with etl_database.connect() as conn, conn, conn.cursor() as cur:  # episodes opened are always queued
        queued = queue_check_failures(
            cur, evaluations, alert_channel.dagster_webserver_url, alert_channel.destinations()
        )
    last_read = evaluations[-1].record_id if evaluations else after
    report_tick(context, f"queued {queued} check-failure alert(s)" if queued else None, str(last_read))
    return dg.SkipReason(
        f"{len(evaluations)} new evaluation(s) of {len(check_keys)} checks, {queued} message(s) queued"
    )
