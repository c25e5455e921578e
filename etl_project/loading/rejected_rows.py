"""The first rejected rows of a batch, as its materialisations show them, read in one bounded query.

Read once after the load (never per row, never inside it): each event type's first rows for its table, and the
whole batch's first rows for `raw_events`. Every part of the query is a range of the index on
(batch_id, event_type, file_row) read in order up to the limit: the known event types one by one, and the rows
of any other type (NULL, or a type the platform does not know) as the ranges between them. The whole batch's
first rows are among those parts' rows, so no part ever reads or sorts all of a batch's rejections.
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


def _first_rows(condition: sql.Composable, limit: int) -> sql.Composed:
    return sql.SQL(
        "(SELECT file_row, event_type, rejection_reason, left(payload, {chars}) FROM etl.rejected_events "
        "WHERE batch_id = {batch} AND {condition} ORDER BY file_row LIMIT {limit})"
    ).format(
        chars=sql.Literal(PAYLOAD_EXCERPT_CHARS),
        batch=BATCH_ID,
        condition=condition,
        limit=sql.Literal(limit),
    )


def _event_type_ranges() -> list[sql.Composable]:
    """One condition per known event type, then conditions covering every other value, each an index range."""
    known = sorted(schema.event_type for schema in EVENT_SCHEMAS)
    each = [sql.SQL("event_type = {}").format(sql.Literal(t)) for t in known]
    between = [sql.SQL("event_type < {}").format(sql.Literal(known[0]))]
    between += [
        sql.SQL("event_type > {} AND event_type < {}").format(sql.Literal(low), sql.Literal(high))
        for low, high in zip(known, known[1:], strict=False)
    ]
    between.append(sql.SQL("event_type > {}").format(sql.Literal(known[-1])))
    return [*each, sql.SQL("event_type IS NULL"), *between]


def first_rejected_rows(
    conn: psycopg2.extensions.connection, batch_id: str, limit: int = REJECTED_ROWS_SHOWN
) -> dict[str, list[RejectedRow]]:
    """The first `limit` rejected rows (by file row) of the batch (`raw_events`) and of each event table."""
    parts = [_first_rows(condition, limit) for condition in _event_type_ranges()]
    with conn, conn.cursor() as cur:
        # Statistics lag behind the load that just inserted the rejections: the planner, expecting a few rows,
        # would fetch and sort all of a type's rows. Each part is an index range read in order; say so.
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute(sql.SQL(" UNION ALL ").join(parts), {"batch_id": batch_id})
        rows = sorted(
            (RejectedRow(n, t, reason, excerpt or "") for n, t, reason, excerpt in cur.fetchall()),
            key=lambda row: row.file_row,
        )
    tables = {schema.event_type: schema.table for schema in EVENT_SCHEMAS}
    shown: dict[str, list[RejectedRow]] = {
        WHOLE_BATCH: rows[:limit],
        **{table: [] for table in tables.values()},
    }
    for row in rows:
        if row.event_type in tables:
            shown[tables[row.event_type]].append(row)
    return shown
