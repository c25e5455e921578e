"""Replay of late data: rows rejected only because a row they reference had not arrived yet are validated
again (with `validate.validate_events`, against the tables as they stand) and loaded once they pass."""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading import rejections as r
from etl_project.loading.params import BATCH_ID
from etl_project.schemas import EVENT_SCHEMAS, EventSchema


def late_reference_events(schema: EventSchema) -> sql.Composed:
    """The batch's events of one type rejected for an unknown reference (`BatchParams`)."""
    categories = r.reference_categories(schema)
    if not categories:
        raise ValueError(f"{schema.event_type} references no other table: nothing of it can arrive late")
    return sql.SQL(
        "SELECT r.raw_id, r.file_row, r.batch_created_at, r.payload FROM etl.raw_events r "
        "WHERE r.event_type = {} AND r.raw_id IN (SELECT raw_id FROM etl.rejected_events "
        "WHERE batch_id = {} AND raw_id IS NOT NULL AND {} IN ({}))"
    ).format(
        sql.Literal(schema.event_type),
        BATCH_ID,
        r.category_sql(sql.SQL("rejection_reason")),
        sql.SQL(", ").join(map(sql.Literal, categories)),
    )


def forget_replayed_rejections(validated: sql.Composable) -> sql.Composed:
    """After a replay (`BatchParams`): rows now loaded leave etl.rejected_events; the others keep their
    (updated) reason."""
    return sql.SQL(
        """
        WITH moved AS (
            DELETE FROM etl.rejected_events e USING {validated} v
            WHERE e.batch_id = {batch_id} AND e.raw_id = v.raw_id AND v.reason IS NULL
            RETURNING e.raw_id
        )
        UPDATE etl.rejected_events e SET rejection_reason = v.reason, rejected_at = now()
        FROM {validated} v
        WHERE e.batch_id = {batch_id} AND e.raw_id = v.raw_id AND v.reason IS NOT NULL
          AND e.rejection_reason IS DISTINCT FROM v.reason
        """
    ).format(validated=validated, batch_id=BATCH_ID)


def batches_with_late_references() -> sql.Composed:
    """Batches with rows rejected for an unknown reference, which a replay may now load."""
    categories = [c for schema in EVENT_SCHEMAS for c in r.reference_categories(schema)]
    return sql.SQL(
        "SELECT DISTINCT batch_id FROM etl.rejected_events "
        "WHERE raw_id IS NOT NULL AND {} IN ({}) ORDER BY batch_id"
    ).format(r.category_sql(sql.SQL("rejection_reason")), sql.SQL(", ").join(map(sql.Literal, categories)))
