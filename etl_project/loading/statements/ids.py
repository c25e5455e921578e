"""Stage 3c: ids of entity rows. A load gives its valid entities their ids in its entity table (explicit ones
kept, the others from the table's sequence, in file order), where later event types of the batch find them as
references, then inserts them into `etl.<table>`."""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import BATCH_ID
from etl_project.loading.statements.common import SCRATCH, event_columns, event_table
from etl_project.schemas import EventSchema


def create_entity_table(target: sql.Composable, table: str) -> sql.Composed:
    """Where a load keeps one entity table's valid rows: their ids are assigned there, and later event types of
    the batch find them there as references before they reach `etl.<table>`."""
    return sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {}) {}").format(target, event_table(table), SCRATCH)


def advance_id_sequence(schema: EventSchema, validated: sql.Composable) -> sql.Composed:
    """Move the table's id sequence forward past ids given explicitly in `validated`, so the next implicit id
    never collides.

    Never backwards: the generator reserves ids from the same sequence before their batch is loaded.
    """
    return sql.SQL(
        "SELECT setval(pg_get_serial_sequence({name}, 'id'), max(id)) FROM {validated} "
        "HAVING max(id) > coalesce(pg_sequence_last_value(pg_get_serial_sequence({name}, 'id')::regclass), 0)"
    ).format(name=sql.Literal(f"etl.{schema.table}"), validated=validated)


def id_sequence_of(schema: EventSchema) -> sql.Composed:
    return sql.SQL("SELECT pg_get_serial_sequence({}, 'id')").format(sql.Literal(f"etl.{schema.table}"))


def keep_valid_entities(
    schema: EventSchema, id_sequence: str, into: sql.Composable, validated: sql.Composable
) -> sql.Composed:
    """The valid rows of `validated` into the load's entity table `into`, in file order; rows without an id
    take the next one of the table's sequence (after `advance_id_sequence` moved it past the explicit ones)."""
    assert schema.is_entity, schema.table
    columns = event_columns(schema)
    values = [
        sql.SQL("coalesce(id, nextval({}::regclass))").format(sql.Literal(id_sequence))
        if name == "id"
        else BATCH_ID
        if name == "batch_id"
        else sql.Identifier(name)
        for name in columns
    ]
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE reason IS NULL ORDER BY file_row").format(
        into,
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(values),
        validated,
    )


def insert_entities(schema: EventSchema, source: sql.Composable) -> sql.Composed:
    """A load's valid entities (ids assigned) from its entity table into `etl.<table>`."""
    columns = sql.SQL(", ").join(map(sql.Identifier, event_columns(schema)))
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        event_table(schema.table), columns, columns, source
    )
