"""A PostgreSQL outbox for alerts: recorded once, delivered in order, retried until the channel accepts.

Recording an alert and remembering which (store, day) it covers happen in one transaction, so a sensor
restart or a re-evaluation of the check never announces the same store's drop on the same day twice.
Delivery is a separate step: a message the channel refused stays pending, keeps its place in the queue, and
is tried again on the next tick. Delivery is at least once: a crash between Slack accepting a message and
the outbox recording it would resend that one message.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import psycopg2.extensions
from psycopg2.extras import Json

from etl_project.defs.sales_analytics.messengers import AlertMessage, Messenger, MessengerError


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    pending: int
    last_error: str | None


def already_alerted(conn: psycopg2.extensions.connection, as_of: date, store_ids: Sequence[int]) -> set[int]:
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT store_id FROM utilities.sales_drop_alerts WHERE as_of_date = %s AND store_id = ANY(%s)",
            (as_of, list(store_ids)),
        )
        return {row[0] for row in cur.fetchall()}


def enqueue_sales_drop_alert(
    conn: psycopg2.extensions.connection,
    evaluation_key: str,
    as_of: date,
    store_ids: Sequence[int],
    message: AlertMessage,
) -> bool:
    """Queue `message` for the stores it names, unless this evaluation was queued before; True if queued."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO utilities.alert_outbox (evaluation_key, as_of_date, message) VALUES (%s, %s, %s) "
            "ON CONFLICT (evaluation_key) DO NOTHING RETURNING id",
            (evaluation_key, as_of, Json(message.to_json())),
        )
        row = cur.fetchone()
        if row is None:
            return False
        cur.executemany(
            "INSERT INTO utilities.sales_drop_alerts (store_id, as_of_date, message_id) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            [(store_id, as_of, row[0]) for store_id in store_ids],
        )
    return True


def deliver_pending(
    conn: psycopg2.extensions.connection, messenger: Messenger, limit: int = 20
) -> DeliveryReport:
    """Send pending messages oldest first; stop at the first refusal so that order is kept."""
    delivered = 0
    last_error = None
    for _ in range(limit):
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id, message FROM utilities.alert_outbox WHERE delivered_at IS NULL "
                "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            row = cur.fetchone()
            if row is None:
                break
            outbox_id, payload = row
            try:
                messenger.send(AlertMessage.from_json(payload))
            except MessengerError as err:
                last_error = str(err)
                cur.execute(
                    "UPDATE utilities.alert_outbox SET attempts = attempts + 1, last_error = %s, "
                    "last_attempt_at = now() WHERE id = %s",
                    (last_error, outbox_id),
                )
                break
            cur.execute(
                "UPDATE utilities.alert_outbox SET attempts = attempts + 1, last_attempt_at = now(), "
                "delivered_at = now(), delivered_via = %s, last_error = NULL WHERE id = %s",
                (messenger.name, outbox_id),
            )
            delivered += 1
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM utilities.alert_outbox WHERE delivered_at IS NULL")
        pending = cur.fetchone()[0]
    return DeliveryReport(delivered, pending, last_error)
