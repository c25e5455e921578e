"""alert_delivery_sensor: the one sender of the alert outbox. Every other alert sensor only queues.

A sensor's ticks never overlap, so with one sender each destination's messages leave in the order they were
queued without any lock between senders.
"""

import dagster as dg

from etl_project.alerting.outbox import deliver_pending
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.tick_reports import report_tick
from etl_project.resources import EtlDatabase

#: How often pending alerts are delivered (a sales verdict's alert waits at most this long once queued).
DELIVERY_TICK_SECONDS = 10


@dg.sensor(
    name="alert_delivery_sensor",
    minimum_interval_seconds=DELIVERY_TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Delivers the alert outbox: each destination's pending messages in the order they were queued; a "
        "message a destination refused stays pending and is retried on the next tick."
    ),
)
def alert_delivery_sensor(
    context: dg.SensorEvaluationContext, etl_database: EtlDatabase, alert_channel: AlertChannel
) -> dg.SkipReason:
    with etl_database.connect() as conn:
        report = deliver_pending(conn, alert_channel.messengers(context.log))
    if report.last_error:
        context.log.warning(f"Alert delivery failed, will retry next tick: {report.last_error}")
    idle = not (report.sent or report.pending or report.last_error)
    report_tick(context, None if idle else report.summary())
    return dg.SkipReason(report.summary())
