"""ingestion_silence_slack_sensor: one alert when batches stop arriving, one when they flow again."""

import dagster as dg

from etl_project.alerting.producers import queue_silence_change
from etl_project.defs.alerting.check_evaluations import evaluations_after
from etl_project.defs.alerting.freshness import SILENCE_SIGNAL_ASSET
from etl_project.defs.alerting.resources import AlertChannel
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
    evaluations = evaluations_after(context.instance, check_keys, int(context.cursor or 0))
    destinations = alert_channel.destinations()
    link = alert_channel.link("/assets/raw_events?view=checks")
    said = []
    with etl_database.connect() as conn:
        for evaluation in evaluations:
            with conn, conn.cursor() as cur:
                change = queue_silence_change(cur, evaluation, link, destinations)
            if change is not None:
                said.append(change)
    if evaluations:
        context.update_cursor(str(evaluations[-1].record_id))
    state = f"ingestion {' then '.join(said)}" if said else "no change in ingestion freshness"
    return dg.SkipReason(state)
