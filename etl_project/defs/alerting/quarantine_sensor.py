"""quarantined_file_slack_sensor: each file the loader could not read (utilities.processed_files rows with
status 'quarantined') is announced once per file version, naming the file and the reason."""

from urllib.parse import quote

import dagster as dg
import psycopg2.extensions

from etl_project.defs.alerting.messengers import AlertMessage
from etl_project.defs.alerting.outbox import deliver_pending, enqueue_alert
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.resources import EtlDatabase
from etl_project.store.processed_files import unannounced_quarantines


def quarantined_file_message(batch_id: str, filename: str, reason: str, link: str) -> AlertMessage:
    return AlertMessage(
        title=f":no_entry: Quarantined file {filename}",
        lines=[
            f"reason: {reason}",
            f"batch {batch_id} was not loaded; fix or replace the file, or drop the batch",
        ],
        link=link,
        link_text="Open the batch in Dagster",
    )


def _queue_new_quarantines(
    cur: psycopg2.extensions.cursor, channel: AlertChannel, destinations: list[str]
) -> list[str]:
    queued = []
    for found in unannounced_quarantines(cur):
        link = channel.link(f"/assets/raw_events?view=partitions&partition={quote(found.batch_id, safe='')}")
        message = quarantined_file_message(found.batch_id, found.filename, found.reason, link)
        if enqueue_alert(cur, found.alert_key, "quarantined_file", message, destinations) is not None:
            queued.append(found.filename)
    return queued


@dg.sensor(
    name="quarantined_file_slack_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Posts to Slack each batch file that could not be read and was quarantined (empty, not UTF-8, "
        "wrong header...), naming the file and the reason: once per version of the file."
    ),
)
def quarantined_file_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Announces quarantined files recorded in utilities.processed_files and not announced yet."""
    messengers = alert_channel.messengers(context.log)
    with etl_database.connect() as conn:
        with conn, conn.cursor() as cur:
            queued = _queue_new_quarantines(cur, alert_channel, [m.name for m in messengers])
        report = deliver_pending(conn, messengers)
    found = f"{len(queued)} newly quarantined: {', '.join(queued)}" if queued else "no newly quarantined file"
    return dg.SkipReason(f"{found}; {report.summary()}")
