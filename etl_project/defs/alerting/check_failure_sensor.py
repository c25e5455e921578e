"""check_failure_slack_sensor: any asset check whose spec carries `"etl/alert_on_failure": True` (the per-batch
data-quality checks) posts its failures to Slack, once per check, partition and episode."""

import dagster as dg

from etl_project.defs.alerting.check_evaluations import CheckEvaluation, evaluations_after
from etl_project.defs.alerting.check_failure_message import check_failure_message
from etl_project.defs.alerting.outbox import deliver_pending, enqueue_alert
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.resources import EtlDatabase
from etl_project.store.alert_episodes import close_episode, open_episode

#: Spec metadata that opts a check into Slack alerts.
ALERT_ON_FAILURE = "etl/alert_on_failure"


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
        "Posts to Slack when a data-quality check marked etl/alert_on_failure fails (rows not accounted for, "
        "too many rejected rows): once per check and batch until it passes again."
    ),
)
def check_failure_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Reads new evaluations of the alerting checks; a failure opens an episode, a pass closes it. The
    episodes a tick opens are announced in one message per batch. The cursor is the last evaluation read."""
    check_keys = alerting_check_keys(context.repository_def) if context.repository_def else []
    if not check_keys:
        return dg.SkipReason("no check is marked etl/alert_on_failure; nothing to watch")
    after = int(context.cursor or 0)
    evaluations = evaluations_after(context.instance, check_keys, after)
    messengers = alert_channel.messengers(context.log)
    destinations = [m.name for m in messengers]
    queued = 0
    with etl_database.connect() as conn:
        with conn, conn.cursor() as cur:  # one transaction: episodes opened are always queued
            opened: dict[str | None, list[tuple[CheckEvaluation, str]]] = {}
            for evaluation in evaluations:
                subject = f"check:{evaluation.check_key.to_user_string()}:{evaluation.partition or ''}"
                if evaluation.passed:
                    close_episode(cur, subject, evaluation.record_id)
                    continue
                episode = open_episode(cur, subject, evaluation.record_id)
                if episode is not None:
                    opened.setdefault(evaluation.partition, []).append((evaluation, f"{subject}#{episode}"))
            for found in opened.values():
                message = check_failure_message([e for e, _ in found], alert_channel.dagster_webserver_url)
                alert_key = "+".join(key for _, key in found)
                if enqueue_alert(cur, alert_key, "check_failed", message, destinations):
                    queued += 1
        report = deliver_pending(conn, messengers)
    if evaluations:
        context.update_cursor(str(evaluations[-1].record_id))
    return dg.SkipReason(
        f"{len(evaluations)} new evaluation(s) of {len(check_keys)} checks, {queued} message(s) queued; "
        f"{report.summary()}"
    )
