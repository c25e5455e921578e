"""What a reload may not do: take away a store, product or order that rows of other batches reference.

With ids kept by position (`ids`), a reload removes an entity id only when its new version has fewer rows of
that type, or gives a row an explicit id of its own. The writer compares, inside the load's transaction, the
ids of the previous load (`ids.create_previous_ids`) with those now in the table for the batch, and looks for
rows of other batches that still reference one of the missing ids.
"""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import BATCH_ID, RAW_ID_BASE, REMOVED_IDS
from etl_project.loading.statements.common import event_table
from etl_project.loading.statements.replace import in_load
from etl_project.schemas import EVENT_SCHEMAS, EventSchema, PayloadField

#: Ids shown in a refusal's reason, and batches named, per reference.
SHOWN_IDS = 5
SHOWN_BATCHES = 3


def removed_ids(schema: EventSchema, previous: sql.Composable) -> sql.Composed:
    """Ids of `previous` (the batch's previous load) no longer in `etl.<table>` for the batch (`LoadParams`)."""
    return sql.SQL("SELECT id FROM {} EXCEPT SELECT id FROM {} WHERE {}").format(
        previous, event_table(schema.table), in_load(RAW_ID_BASE)
    )


def references() -> list[tuple[EventSchema, PayloadField]]:
    """Every (table, field) that references an entity table, from the schemas."""
    return [(schema, field) for schema in EVENT_SCHEMAS for field in schema.fields if field.references]


def rows_referencing_removed(schema: EventSchema, field: PayloadField) -> sql.Composed:
    """(rows, some batches, some ids) of other batches' rows of `schema` whose `field` is one of
    `removed_ids` (`RemovedIdsParams`)."""
    column = sql.Identifier(field.name)
    return sql.SQL(
        "SELECT count(*), (array_agg(DISTINCT batch_id ORDER BY batch_id))[1:{batches}], "
        "(array_agg(DISTINCT {column} ORDER BY {column}))[1:{ids}] "
        "FROM {table} WHERE {column} = ANY({removed}) AND batch_id <> {batch_id}"
    ).format(
        batches=sql.Literal(SHOWN_BATCHES),
        ids=sql.Literal(SHOWN_IDS),
        column=column,
        table=event_table(schema.table),
        removed=REMOVED_IDS,
        batch_id=BATCH_ID,
    )
