"""Stage 3: validating the events of one type, and what is done with the outcome.

`validate_events` creates a table of every event with its rejection reason (NULL when valid) and its typed
values: field checks first (`fields`), then references and duplicate ids (`references`). Its caller names the
table explicitly: an unlogged staging table (the validator, whose results the writer reads) or the temporary
`TEMP_VALIDATED` (the writer's own slices, a replay), and passes the same name to the statements that read it.
"""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import BATCH_ID, END_TID, FIRST_TID, RAW_ID_BASE
from etl_project.loading.statements.common import REJECTION_COLUMNS, SCRATCH, created_at, event_table
from etl_project.loading.statements.fields import (
    ID_FIELD,
    checked_fields,
    extracted_values,
    first_field_problem,
    typed_values,
)
from etl_project.loading.statements.references import RowsOf, reference_checks
from etl_project.schemas import EventSchema

#: The temporary table (dropped at commit) of a validation run on the writer's connection or by a replay.
TEMP_VALIDATED = sql.Identifier("validated_events")


def staged_events(schema: EventSchema, staged: sql.Composable, page_range: bool = False) -> sql.Composed:
    """The batch's events of one type from `staged` (a part, or `all_parts`); with `page_range`, only those a
    part stores from tuple id FIRST_TID up to END_TID (exclusive, `SliceParams`), read by a TID range scan."""
    pages = sql.SQL(" AND s.ctid >= {}::tid AND s.ctid < {}::tid").format(FIRST_TID, END_TID)
    return sql.SQL(
        "SELECT {} + s.file_row AS raw_id, s.file_row, {} AS batch_created_at, "
        "s.payload FROM {} s WHERE s.event_type = {}{}"
    ).format(
        RAW_ID_BASE,
        created_at("s"),
        staged,
        sql.Literal(schema.event_type),
        pages if page_range else sql.SQL(""),
    )


# Each `OFFSET 0` below is a planner fence: PostgreSQL cannot pull a subquery with an OFFSET up into the query
# around it. Pulled up, a subquery's select-list expressions are copied into every place the outer query uses
# them, and computed again at each; fenced, each is computed once per row. Every fence says what it keeps once.
_VALIDATE_EVENTS = (
    "\n{create}\n"
    "SELECT w.raw_id, w.file_row, w.batch_created_at, w.reason,\n"
    "       CASE WHEN w.reason IS NOT NULL THEN w.payload END AS payload, {columns}\n"
    "FROM (\n"
    "    SELECT v.*, COALESCE(v.field_reason, {late}) AS reason\n"
    "    FROM (\n"
    "        SELECT f.raw_id, f.file_row, f.batch_created_at, f.payload, f.field_reason, {typed}\n"
    "        FROM (\n"
    "            SELECT e.*, COALESCE({problems}) AS field_reason\n"
    "            FROM (SELECT src.raw_id, src.file_row, src.batch_created_at, src.payload, {extracted}\n"
    # Fence 1: each field's `payload -> name` and `->> name` once per row; the checks of `problems` use each
    # of them up to five times.
    "                  FROM ({events}) src OFFSET 0) e\n"
    # Fence 2: `field_reason` (the COALESCE of every field's checks) once per row; every typed value's CASE
    # tests it, and so does the next level.
    "            OFFSET 0\n"
    "        ) f\n"
    # Fence 3: the typed values (casts) once per row, before the joins that look them up as references: not
    # copied into the join conditions and lookups, and cast only for rows whose fields passed.
    "        OFFSET 0\n"
    "    ) v\n"
    "    {joins}\n"
    # Fence 4: `reason` (with its lookups and window function) once per row; the outer level reads it twice.
    "    OFFSET 0\n"
    ") w\n"
)


def validate_events(
    schema: EventSchema,
    events: sql.Composable,
    rows_of: RowsOf,
    into: sql.Composable,
    temporary: bool,
) -> sql.Composed:
    """Create `into` (a temporary table dropped at commit when `temporary`, else an unlogged staging table)
    from `events`: each with its rejection reason (NULL when valid) and typed values.

    Field checks run first, in declaration order, on values extracted once per row; then references to other
    tables (loaded before this one, so rows of the same batch count) and, for entity tables, duplicate ids;
    `rows_of(table)` are the relations (with `id` and `batch_id`) those two look in.
    The payload is kept only for rejected rows, which is all that needs it.
    """
    fields = checked_fields(schema)
    joins, late_checks = reference_checks(schema, rows_of)
    late = sql.SQL(", ").join(late_checks) if late_checks else sql.SQL("NULL")
    columns = sql.SQL(", ").join(sql.SQL("w.{}").format(sql.Identifier(f.name)) for f in fields)
    create = (
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS").format(into)
        if temporary
        else sql.SQL("CREATE UNLOGGED TABLE {} {} AS").format(into, SCRATCH)
    )
    return sql.SQL(_VALIDATE_EVENTS).format(
        create=create,
        columns=columns,
        late=late,
        typed=typed_values(fields),
        problems=first_field_problem(fields),
        extracted=extracted_values(fields),
        events=events,
        joins=sql.SQL("\n").join(joins),
    )


def insert_valid_events(schema: EventSchema, explicit_ids: bool, validated: sql.Composable) -> sql.Composed:
    """Insert the valid rows of `validated` into the schema's table.

    Entity rows with an explicit id are inserted first (`explicit_ids=True`), then the table's id sequence is
    moved past them, then rows without one take the next ids in file order (`explicit_ids=False`). Other rows
    need no order (a load inserts its slices in whatever order they are validated).
    """
    fields = list(schema.fields)
    where = sql.SQL("reason IS NULL")
    if schema.is_entity:
        if explicit_ids:
            fields.insert(0, ID_FIELD)
            where = sql.SQL("reason IS NULL AND id IS NOT NULL")
        else:  # the identity column numbers them
            where = sql.SQL("reason IS NULL AND id IS NULL")
    columns = sql.SQL(", ").join(sql.Identifier(f.name) for f in fields)
    return sql.SQL(
        """
        INSERT INTO {table} (raw_id, batch_id, batch_created_at, {columns})
        SELECT raw_id, {batch_id}, batch_created_at, {columns}
        FROM {validated} WHERE {where}
        {order}
        """
    ).format(
        table=event_table(schema.table),
        columns=columns,
        batch_id=BATCH_ID,
        validated=validated,
        where=where,
        order=sql.SQL("ORDER BY file_row" if schema.is_entity and not explicit_ids else ""),
    )


def reject_invalid_events(
    schema: EventSchema, into: sql.Composable, validated: sql.Composable
) -> sql.Composed:
    """The invalid rows of `validated`, with their reasons, into `into` (a table with REJECTION_COLUMNS)."""
    return sql.SQL(
        """
        INSERT INTO {into} ({columns})
        SELECT raw_id, {batch_id}, batch_created_at, reason, payload::text, {event_type}, file_row
        FROM {validated} WHERE reason IS NOT NULL
        """
    ).format(
        into=into,
        columns=sql.SQL(", ").join(map(sql.Identifier, REJECTION_COLUMNS)),
        batch_id=BATCH_ID,
        validated=validated,
        event_type=sql.Literal(schema.event_type),
    )


def drop_validated(validated: sql.Composable) -> sql.Composed:
    return sql.SQL("DROP TABLE {}").format(validated)
