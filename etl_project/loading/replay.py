"""Replays rows rejected only because a row they reference had not arrived yet (batches out of order).

Each batch is replayed in its own transaction under the same advisory lock as its loads, so a replay and a
reload of the same batch never interleave, and a row moves into its table exactly once.
"""

from collections import Counter

import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading import validation_sql as q
from etl_project.loading.batch_loader import lock_batch
from etl_project.schemas import EVENT_SCHEMAS, EventSchema


def batches_to_replay(conn: psycopg2.extensions.connection) -> list[str]:
    with conn, conn.cursor() as cur:
        cur.execute(q.batches_with_late_references())
        return [row[0] for row in cur.fetchall()]


def replay_batch(conn: psycopg2.extensions.connection, batch_id: str) -> Counter[str]:
    """Move the batch's late-reference rejections whose references now exist; return rows moved per table."""
    moved: Counter[str] = Counter()
    params = {"batch_id": batch_id}
    with conn, conn.cursor() as cur:
        lock_batch(cur, batch_id)
        for schema in EVENT_SCHEMAS:
            if not q.reference_categories(schema):
                continue
            moved[schema.table] += _load_event_table(cur, schema, q.late_reference_events(schema), params)
            cur.execute(q.forget_replayed_rejections(), params)
            cur.execute(q.drop_validated())
        if moved.total():
            cur.execute(
                "UPDATE utilities.processed_files SET rows_loaded = rows_loaded + %s, "
                "rows_rejected = rows_rejected - %s WHERE batch_id = %s",
                (moved.total(), moved.total(), batch_id),
            )
    return moved


def _load_event_table(
    cur: psycopg2.extensions.cursor, schema: EventSchema, events: sql.Composable, params: dict
) -> int:
    """Validate `events` of one type (the same SQL as a load) and insert the valid ones; return rows inserted.

    The rows stay in etl.rejected_events until `forget_replayed_rejections`; those still invalid get their
    new reason there.
    """
    cur.execute(q.validate_events(schema, events), params)
    loaded = 0
    for explicit_ids in (True, False) if schema.is_entity else (False,):
        cur.execute(q.insert_valid_events(schema, explicit_ids), params)
        loaded += cur.rowcount
        if explicit_ids:
            cur.execute(q.advance_id_sequence(schema))
    return loaded
