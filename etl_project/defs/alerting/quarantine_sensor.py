"""quarantined_file_slack_sensor: each file the loader could not read (utilities.processed_files rows with
status 'quarantined') is announced once per file version, naming the file and the reason."""

from urllib.parse import quote

import dagster as dg
import psycopg2.extensions

from etl_project.defs.alerting.messengers import AlertMessage
from etl_project.defs.alerting.outbox import deliver_pending, enqueue_alert
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.resources import EtlDatabase

#: A file version: its name, size and modification time (a replaced file is a new version).
_ALERT_KEY_SQL = "'quarantined:' || pf.filename || ':' || coalesce(pf.size_bytes, 0) || ':' || coalesce(pf.file_mtime_ns, 0)"
_NOT_ANNOUNCED_SQL = (
    f"SELECT {_ALERT_KEY_SQL}, pf.batch_id, pf.filename, pf.error, pf.size_bytes "  # noqa: S608 - code only
    "FROM utilities.processed_files pf WHERE pf.status = 'quarantined' "
    f"AND NOT EXISTS (SELECT 1 FROM utilities.alert_outbox o WHERE o.alert_key = {_ALERT_KEY_SQL}) "
    "ORDER BY pf.loaded_at, pf.id LIMIT 100"
)


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
    cur.execute(_NOT_ANNOUNCED_SQL)
    queued = []
    for alert_key, batch_id, filename, error, _size in cur.fetchall():
        link = channel.link(f"/assets/raw_events?view=partitions&partition={quote(batch_id, safe='')}")
        message = quarantined_file_message(batch_id, filename, error or "unknown", link)
        if enqueue_alert(cur, alert_key, "quarantined_file", message, destinations) is not None:
            queued.append(filename)
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
