"""ingestion_silence_slack_sensor: one alert when batches stop arriving, one when they flow again."""

import dagster as dg

from etl_project.alerting.producers import queue_silence_change
from etl_project.defs.alerting.check_evaluations import evaluations_after
from etl_project.defs.alerting.freshness import SILENCE_SIGNAL_ASSET
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.tick_reports import cursor_state, report_tick
from etl_project.resources import EtlDatabase


def _signal_check_keys(repository: dg.RepositoryDefinition | None) -> list[dg.AssetCheckKey]:
    """The freshness check(s) of the signal asset, as built by build_last_update_freshness_checks."""
    if repository is None:
        return []
    return [
        key
        for key in repository.asset_graph.asset_check_keys
        if key.asset_key == SILENCE_SIGNAL_ASSET and "freshness" in key.name
    ]


@dg.sensor(
    name="ingestion_silence_slack_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Queues a Slack alert when no batch was loaded for ETL_INGESTION_MAX_SILENCE_MINUTES (raw_events' "
        "freshness check fails), once per silence, and once more when data flows again."
    ),
)
def ingestion_silence_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Follows raw_events' freshness check; each evaluation in its own transaction."""
    check_keys = _signal_check_keys(context.repository_def)
    after = int(cursor_state(context.cursor) or 0)
    evaluations = evaluations_after(context.instance, check_keys, after)
    destinations = alert_channel.destinations()
    link = alert_channel.link("/assets/raw_events?view=checks")
    said = []
    with etl_database.connect() as conn:
        for evaluation in evaluations:
            with conn, conn.cursor() as cur:
                change = queue_silence_change(cur, evaluation, link, destinations)
            if change is not None:
                said.append(change)
    did = f"queued: ingestion {' then '.join(said)}" if said else None
    report_tick(context, did, str(evaluations[-1].record_id if evaluations else after))
    return dg.SkipReason(did or "no change in ingestion freshness")
