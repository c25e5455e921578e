"""The PostgreSQL outbox every alert goes through: recorded once, delivered in order, retried until accepted.

Each message is recorded under a key naming what it is about (`sales_drop:2025-04-20:<evaluation>`,
`run_failed:<run id>`, ...), one row per destination: recording the same key again does nothing, so a sensor
restart or a re-evaluation never announces the same thing twice. Delivery is a separate step: a message a
destination refused stays pending, keeps its place in that destination's queue, and is tried again on the
next tick. Delivery is at least once: a crash between Slack accepting a message and the outbox recording it
would resend that one message.

Producers (the alert sensors) only queue, in their own transactions. One dispatcher (alert_delivery_sensor)
delivers: with one sender, each destination's messages leave in the order they were queued without any lock.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import psycopg2.extensions

from etl_project.alerting.messengers import AlertMessage, Messenger, MessengerError
from etl_project.store import alert_outbox
from etl_project.store.alert_outbox import AlertKind


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery pass did, for the sensor's tick text."""

    sent: Counter[str] = field(default_factory=Counter)  # destination -> messages accepted
    pending: int = 0
    last_error: str | None = None

    def summary(self) -> str:
        sent = ", ".join(
            f"sent {n} message{'s' if n != 1 else ''} to {destination}"
            for destination, n in self.sent.items()
        )
        parts = [sent or ("nothing sent" if self.pending else "nothing due")]
        if self.pending:
            parts.append(f"{self.pending} pending")
        if self.last_error:
            parts.append(f"last error: {self.last_error}")
        return "; ".join(parts)


def enqueue_alert(
    cur: psycopg2.extensions.cursor,
    alert_key: str,
    kind: AlertKind,
    message: AlertMessage,
    destinations: Sequence[str],
    as_of: date | str | None = None,
) -> int | None:
    """Queue `message` for each destination in the caller's transaction; the first row's id, or None when
    this key was queued before (nothing is queued again)."""
    if alert_outbox.is_queued(cur, alert_key):
        return None
    first_id = None
    for destination in destinations:
        queued = alert_outbox.queue(cur, alert_key, kind, destination, as_of, message.to_json())
        if queued is not None and first_id is None:
            first_id = queued
    return first_id


def deliver_pending(
    conn: psycopg2.extensions.connection, messengers: Sequence[Messenger], limit: int = 20
) -> DeliveryReport:
    """Send each destination's pending messages oldest first; a refusal stops that destination only.

    Called by one sender only (the dispatcher sensor; a sensor's ticks never overlap)."""
    sent: Counter[str] = Counter()
    last_error = None
    for messenger in messengers:
        delivered, error = _deliver_to(conn, messenger, limit)
        if delivered:
            sent[messenger.name] += delivered
        last_error = error or last_error
    with conn, conn.cursor() as cur:
        pending = alert_outbox.pending_summary(cur).count
    return DeliveryReport(sent, pending, last_error)


def _deliver_to(
    conn: psycopg2.extensions.connection, messenger: Messenger, limit: int
) -> tuple[int, str | None]:
    delivered = 0
    for _ in range(limit):
        with conn, conn.cursor() as cur:
            row = alert_outbox.oldest_pending(cur, messenger.name)
            if row is None:
                return delivered, None
            outbox_id, payload = row
            try:
                messenger.send(AlertMessage.from_json(payload))
            except MessengerError as err:
                alert_outbox.record_refused(cur, outbox_id, str(err))
                return delivered, f"{messenger.name}: {err}"
            alert_outbox.record_delivered(cur, outbox_id, messenger.name)
            delivered += 1
    return delivered, None
