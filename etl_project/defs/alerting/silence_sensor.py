"""ingestion_silence_slack_sensor: one message when batches stop arriving, one when they flow again."""

from datetime import datetime, timezone

import dagster as dg

from etl_project.defs.alerting.check_evaluations import CheckEvaluation, evaluations_after
from etl_project.defs.alerting.freshness import SILENCE_SIGNAL_ASSET
from etl_project.defs.alerting.messengers import AlertMessage
from etl_project.defs.alerting.outbox import deliver_pending, enqueue_alert
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.resources import EtlDatabase
from etl_project.store.alert_episodes import close_episode, open_episode

SILENCE_SUBJECT = "silence:ingestion"
LAST_UPDATED = "dagster/last_updated_timestamp"


def _signal_check_keys(repository: dg.RepositoryDefinition | None) -> list[dg.AssetCheckKey]:
    """The freshness check(s) of the signal asset, as built by build_last_update_freshness_checks."""
    if repository is None:
        return []
    return [
        key
        for key in repository.asset_graph.asset_check_keys
        if key.asset_key == SILENCE_SIGNAL_ASSET and "freshness" in key.name
    ]


def _when(evaluation: CheckEvaluation) -> str:
    stamp = evaluation.metadata.get(LAST_UPDATED)
    if stamp is None:
        return "never"
    return datetime.fromtimestamp(float(stamp), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def silence_message(evaluation: CheckEvaluation, link: str) -> AlertMessage:
    return AlertMessage(
        title=":hourglass: Ingestion is silent: no batch loaded",
        lines=[
            evaluation.description or "No batch loaded within the allowed silence",
            f"last batch loaded: {_when(evaluation)}",
        ],
        link=link,
        link_text="Open raw_events in Dagster",
    )


def flowing_again_message(evaluation: CheckEvaluation, link: str) -> AlertMessage:
    return AlertMessage(
        title=":white_check_mark: Data is flowing again",
        lines=[f"a batch was loaded at {_when(evaluation)}; ingestion is no longer silent"],
        link=link,
        link_text="Open raw_events in Dagster",
    )


@dg.sensor(
    name="ingestion_silence_slack_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Posts to Slack when no batch was loaded for ETL_INGESTION_MAX_SILENCE_MINUTES (raw_events' freshness "
        "check fails), once per silence, and once more when data flows again."
    ),
)
def ingestion_silence_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Follows raw_events' freshness check. A failure after at least one load opens a silence (a platform
    that never loaded anything is not "silent"); the next pass closes it."""
    check_keys = _signal_check_keys(context.repository_def)
    evaluations = evaluations_after(context.instance, check_keys, int(context.cursor or 0))
    messengers = alert_channel.messengers(context.log)
    destinations = [m.name for m in messengers]
    link = alert_channel.link("/assets/raw_events?view=checks")
    said = []
    with etl_database.connect() as conn:
        for evaluation in evaluations:
            with conn, conn.cursor() as cur:
                if evaluation.passed:
                    episode = close_episode(cur, SILENCE_SUBJECT, evaluation.record_id)
                    message, kind = flowing_again_message(evaluation, link), "ingestion_flowing"
                elif evaluation.metadata.get(LAST_UPDATED) is not None:
                    episode = open_episode(cur, SILENCE_SUBJECT, evaluation.record_id)
                    message, kind = silence_message(evaluation, link), "ingestion_silent"
                else:
                    continue
                if episode is not None:
                    enqueue_alert(cur, f"{SILENCE_SUBJECT}#{episode}:{kind}", kind, message, destinations)
                    said.append("silent" if kind == "ingestion_silent" else "flowing again")
        report = deliver_pending(conn, messengers)
    if evaluations:
        context.update_cursor(str(evaluations[-1].record_id))
    state = f"ingestion {' then '.join(said)}" if said else "no change in ingestion freshness"
    return dg.SkipReason(f"{state}; {report.summary()}")
