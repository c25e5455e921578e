"""`utilities.alert_outbox`: every alert, one row per message and destination, until a destination accepts it.

A row is pending while `delivered_at` is NULL. Rows are keyed by (alert_key, destination): the key names what the
alert is about, so queueing it again does nothing. The outbox's logic (what to queue, delivery in order) is the
alerting library's (`etl_project.alerting.outbox`); this module holds the table's SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

import psycopg2.extensions
from psycopg2.extras import Json

from etl_project.store.rows import one_row

#: What an alert is about (the `kind` column).
AlertKind = Literal[
    "sales_drop",
    "sales_no_data",
    "ingestion_silent",
    "ingestion_flowing",
    "run_failed",
    "quarantined_file",
    "check_failed",
]
#: Rows written before destinations existed (migration 0009): delivered by the first destination that can.
ANY_DESTINATION: Final = "any"


def is_queued(cur: psycopg2.extensions.cursor, alert_key: str) -> bool:
    """Whether a message with this key was ever queued (for any destination)."""
    cur.execute("SELECT 1 FROM utilities.alert_outbox WHERE alert_key = %s LIMIT 1", (alert_key,))
    return cur.fetchone() is not None


def queue(
    cur: psycopg2.extensions.cursor,
    alert_key: str,
    kind: AlertKind,
    destination: str,
    as_of: date | str | None,
    message: dict[str, Any],
) -> int | None:
    """Queue `message` (JSON) for one destination; its row id, None when this key and destination exist."""
    cur.execute(
        "INSERT INTO utilities.alert_outbox (alert_key, kind, destination, as_of_date, message) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (alert_key, destination) DO NOTHING RETURNING id",
        (alert_key, kind, destination, as_of, Json(message)),
    )
    row = cur.fetchone()
    return int(row[0]) if row is not None else None


def oldest_pending(cur: psycopg2.extensions.cursor, destination: str) -> tuple[int, dict[str, Any]] | None:
    """(row id, message) of the destination's oldest pending message, None when it has none."""
    cur.execute(
        "SELECT id, message FROM utilities.alert_outbox "
        "WHERE delivered_at IS NULL AND destination IN (%s, %s) ORDER BY id LIMIT 1",
        (destination, ANY_DESTINATION),
    )
    row = cur.fetchone()
    return (int(row[0]), row[1]) if row is not None else None


def record_refused(cur: psycopg2.extensions.cursor, outbox_id: int, error: str) -> None:
    cur.execute(
        "UPDATE utilities.alert_outbox SET attempts = attempts + 1, last_error = %s, "
        "last_attempt_at = now() WHERE id = %s",
        (error, outbox_id),
    )


def record_delivered(cur: psycopg2.extensions.cursor, outbox_id: int, via: str) -> None:
    cur.execute(
        "UPDATE utilities.alert_outbox SET attempts = attempts + 1, last_attempt_at = now(), "
        "delivered_at = now(), delivered_via = %s, last_error = NULL WHERE id = %s",
        (via, outbox_id),
    )


@dataclass(frozen=True)
class PendingAlerts:
    """Messages still to deliver: how many, since when, and the last refusal's error."""

    count: int
    oldest: datetime | None
    last_error: str | None


def pending_summary(cur: psycopg2.extensions.cursor) -> PendingAlerts:
    cur.execute(
        "SELECT count(*), min(created_at), "
        "(SELECT last_error FROM utilities.alert_outbox WHERE delivered_at IS NULL "
        " AND last_error IS NOT NULL ORDER BY last_attempt_at DESC LIMIT 1) "
        "FROM utilities.alert_outbox WHERE delivered_at IS NULL"
    )
    count, oldest, last_error = one_row(cur)
    return PendingAlerts(int(count), oldest, last_error)
