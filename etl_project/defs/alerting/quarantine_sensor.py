"""quarantined_file_slack_sensor: each file the loader could not read (quarantined in the ledger) is announced
once per file version, naming the file and the reason."""

from urllib.parse import quote

import dagster as dg

from etl_project.alerting.producers import queue_new_quarantines
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.tick_reports import report_tick
from etl_project.resources import EtlDatabase


@dg.sensor(
    name="quarantined_file_slack_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Queues a Slack alert for each batch file that could not be read and was quarantined (empty, not "
        "UTF-8, wrong header...), naming the file and the reason: once per version of the file."
    ),
)
def quarantined_file_slack_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    """Queues the quarantined file versions not announced yet."""

    def batch_link(batch_id: str) -> str:
        return alert_channel.link(f"/assets/raw_events?view=partitions&partition={quote(batch_id, safe='')}")

    with etl_database.connect() as conn, conn, conn.cursor() as cur:
        queued = queue_new_quarantines(cur, batch_link, alert_channel.destinations())
    did = f"queued an alert for {len(queued)} quarantined: {', '.join(queued)}" if queued else None
    report_tick(context, did)
    return dg.SkipReason(did or "no newly quarantined file")
