"""Replays rows rejected only because a row they reference had not arrived yet (batches out of order).

Each batch is replayed in its own transaction under the same advisory lock as its loads, so a replay and a
reload of the same batch never interleave, and a row moves into its table exactly once.
"""

from collections import Counter

import psycopg2.extensions
from psycopg2 import sql

from etl_project.loading.params import BatchParams
from etl_project.loading.rejections import reference_categories
from etl_project.loading.statements import ids, validate
from etl_project.loading.statements import replay as replay_sql
from etl_project.loading.statements.references import committed_rows
from etl_project.schemas import EVENT_SCHEMAS, EventSchema
from etl_project.store import processed_files, sales_changes


def batches_to_replay(conn: psycopg2.extensions.connection) -> list[str]:
    with conn, conn.cursor() as cur:
        cur.execute(replay_sql.batches_with_late_references())
        return [row[0] for row in cur.fetchall()]


def replay_batch(conn: psycopg2.extensions.connection, batch_id: str) -> Counter[str]:
    """Move the batch's late-reference rejections whose references now exist; return rows moved per table."""
    moved: Counter[str] = Counter()
    params = BatchParams(batch_id)
    validated = validate.TEMP_VALIDATED
    with conn, conn.cursor() as cur:
        processed_files.lock_batch(cur, batch_id)
        for schema in EVENT_SCHEMAS:
            if not reference_categories(schema):
                continue
            events = replay_sql.late_reference_events(schema)
            moved[schema.table] += _load_event_table(cur, schema, events, validated, params)
            if schema.table == "sales":  # late sales change store_daily_sales
                cur.execute(sales_changes.record_replayed_sales(validated))
            cur.execute(replay_sql.forget_replayed_rejections(validated), params.as_params())
            cur.execute(validate.drop_validated(validated))
        if moved.total():
            processed_files.count_replayed_rows(cur, batch_id, moved.total())
    return moved


def _load_event_table(
    cur: psycopg2.extensions.cursor,
    schema: EventSchema,
    events: sql.Composable,
    validated: sql.Composable,
    params: BatchParams,
) -> int:
    """Validate `events` of one type (the same SQL as a load) into `validated` and insert the valid ones;
    return rows inserted.

    The rows stay in etl.rejected_events until `forget_replayed_rejections`; those still invalid get their
    new reason there.
    """
    cur.execute(
        validate.validate_events(schema, events, committed_rows, into=validated, temporary=True),
        params.as_params(),
    )
    loaded = 0
    for explicit_ids in (True, False) if schema.is_entity else (False,):
        cur.execute(validate.insert_valid_events(schema, explicit_ids, validated), params.as_params())
        loaded += cur.rowcount
        if explicit_ids:
            cur.execute(ids.advance_id_sequence(schema, validated))
    return loaded
