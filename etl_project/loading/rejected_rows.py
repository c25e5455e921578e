"""The first rejected rows of a batch, as its materialisations show them, read in one bounded query.

Read once after the load (never per row, never inside it): the whole batch's first rows for `raw_events`, and
each event type's first rows for its table. Each part is a top-N (`ORDER BY file_row LIMIT`) over the batch's
rejections, so memory stays bounded however many rows a batch rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading.params import BATCH_ID
from etl_project.schemas import EVENT_SCHEMAS

#: Rejected rows shown per table; the total is reported next to them.
REJECTED_ROWS_SHOWN = 50
#: Characters of the payload shown per rejected row.
PAYLOAD_EXCERPT_CHARS = 160
#: The key of the whole batch's rows (the landing table's view).
WHOLE_BATCH = "raw_events"


@dataclass(frozen=True)
class RejectedRow:
    file_row: int
    event_type: str | None
    reason: str
    payload_excerpt: str


def _first_rows(key: str, condition: sql.Composable, limit: int) -> sql.Composed:
    return sql.SQL(
        "(SELECT {key}, file_row, event_type, rejection_reason, left(payload, {chars}) FROM etl.rejected_events "
        "WHERE batch_id = {batch} AND {condition} ORDER BY file_row LIMIT {limit})"
    ).format(
        key=sql.Literal(key),
        chars=sql.Literal(PAYLOAD_EXCERPT_CHARS),
        batch=BATCH_ID,
        condition=condition,
        limit=sql.Literal(limit),
    )


def first_rejected_rows(
    conn: psycopg2.extensions.connection, batch_id: str, limit: int = REJECTED_ROWS_SHOWN
) -> dict[str, list[RejectedRow]]:
    """The first `limit` rejected rows (by file row) of the batch (`raw_events`) and of each event table."""
    parts = [_first_rows(WHOLE_BATCH, sql.SQL("true"), limit)] + [
        _first_rows(schema.table, sql.SQL("event_type = {}").format(sql.Literal(schema.event_type)), limit)
        for schema in EVENT_SCHEMAS
    ]
    shown: dict[str, list[RejectedRow]] = {WHOLE_BATCH: [], **{s.table: [] for s in EVENT_SCHEMAS}}
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(" UNION ALL ").join(parts), {"batch_id": batch_id})
        for key, file_row, event_type, reason, excerpt in cur.fetchall():
            shown[key].append(RejectedRow(file_row, event_type, reason, excerpt or ""))
    for rows in shown.values():
        rows.sort(key=lambda row: row.file_row)
    return shown
