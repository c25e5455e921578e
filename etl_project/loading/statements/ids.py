"""Stage 3c: ids of entity rows. A load gives its valid entities their ids in its entity table (explicit ones
kept, the others from the table's sequence, in file order), where later event types of the batch find them as
references, then inserts them into `etl.<table>`.

**Ids do not move.** A row without an explicit id keeps the id that the batch's previous load gave the row at
the same *position*: its rank among the file's rows of its event type (file order, rows with a valid
envelope). So reloading a file, or a new version that changes values or appends rows, leaves every id where it
was and other batches' references valid; only a row at a new position takes a new id from the sequence.
"""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import BATCH_ID, PREVIOUS_BASE
from etl_project.loading.statements.common import SCRATCH, event_columns, event_table
from etl_project.loading.statements.replace import in_load
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


def create_previous_ids(schema: EventSchema, into: sql.Composable, by_range: bool) -> sql.Composed:
    """`into` (position, id): the ids the batch's previous load gave its rows of `schema` (`PreviousIdsParams`),
    by position among that load's raw events of the type. `by_range`: the load's raw_id range; otherwise a
    batch loaded before ranges existed, found by batch id (a scan, once per such batch)."""
    where = in_load(PREVIOUS_BASE) if by_range else sql.SQL("batch_id = {}").format(BATCH_ID)
    return sql.SQL(
        "CREATE UNLOGGED TABLE {into} {scratch} AS "
        "SELECT p.position, p.id FROM ("
        "  SELECT row_number() OVER (ORDER BY r.raw_id) AS position, e.id"
        "  FROM (SELECT raw_id FROM etl.raw_events WHERE {where} AND event_type = {event_type}) r"
        "  LEFT JOIN (SELECT raw_id, id FROM {table} WHERE {where}) e ON e.raw_id = r.raw_id"
        ") p WHERE p.id IS NOT NULL"
    ).format(
        into=into,
        scratch=SCRATCH,
        table=event_table(schema.table),
        where=where,
        event_type=sql.Literal(schema.event_type),
    )


def keep_valid_entities(
    schema: EventSchema,
    id_sequence: str,
    into: sql.Composable,
    validated: sql.Composable,
    previous: sql.Composable | None,
) -> sql.Composed:
    """The valid rows of `validated` into the load's entity table `into`, in file order. A row without an id
    keeps the id its position had in the previous load (`previous`, from `create_previous_ids`), unless a
    row of this version claims that id explicitly; the others take the next one of the table's sequence (after
    `advance_id_sequence` moved it past the explicit ones)."""
    assert schema.is_entity, schema.table
    columns = event_columns(schema)
    kept = sql.SQL("p.id, ") if previous is not None else sql.SQL("")
    values = [
        sql.SQL("coalesce(v.id, {}nextval({}::regclass))").format(kept, sql.Literal(id_sequence))
        if name == "id"
        else BATCH_ID
        if name == "batch_id"
        else sql.SQL("v.{}").format(sql.Identifier(name))
        for name in columns
    ]
    source = sql.SQL("{} v").format(validated)
    if previous is not None:
        source = sql.SQL(
            "(SELECT *, row_number() OVER (ORDER BY file_row) AS position FROM {validated}) v "
            "LEFT JOIN {previous} p ON p.position = v.position AND v.id IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM {validated} x WHERE x.id = p.id AND x.reason IS NULL)"
        ).format(validated=validated, previous=previous)
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE v.reason IS NULL ORDER BY v.file_row").format(
        into,
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(values),
        source,
    )


def insert_entities(schema: EventSchema, source: sql.Composable) -> sql.Composed:
    """A load's valid entities (ids assigned) from its entity table into `etl.<table>`."""
    columns = sql.SQL(", ").join(map(sql.Identifier, event_columns(schema)))
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        event_table(schema.table), columns, columns, source
    )
