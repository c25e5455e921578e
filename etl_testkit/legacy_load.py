"""The legacy pipeline's SQL load: COPY the file into etl.raw_events, then one INSERT ... SELECT per event type,
into the legacy tables (`legacy_database.LEGACY_DDL`). The benchmark's baseline, and what a test checks it loads.
"""

from pathlib import Path

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from etl_project.schemas import BATCH_FILE_COLUMNS, EVENT_SCHEMAS, EventSchema, FieldType

#: The legacy tables' column type for each payload field type (its timestamps are naive).
LEGACY_CASTS = {
    FieldType.TEXT: "text",
    FieldType.INTEGER: "bigint",
    FieldType.DECIMAL: "numeric",
    FieldType.TIMESTAMP: "timestamp",
}
_COPY_OPTIONS = sql.SQL("(FORMAT csv, HEADER true, ESCAPE '\\')")


def legacy_insert(schema: EventSchema) -> sql.Composed:
    """`INSERT INTO etl.<table> ... SELECT <payload fields, cast> FROM etl.raw_events WHERE event_type = %s`.

    Entities take the payload's `id` (our generator writes ids; in a fresh legacy database its serials would
    number the rows the same way), sales get their serial id.
    """
    fields = [(f.name, LEGACY_CASTS[f.type]) for f in schema.fields]
    if schema.is_entity:
        fields.insert(0, ("id", "bigint"))
    columns = sql.SQL(", ").join(sql.Identifier(name) for name, _ in fields)
    values = sql.SQL(", ").join(
        sql.SQL("(payload ->> {})::{}").format(sql.Literal(name), sql.SQL(cast)) for name, cast in fields
    )
    return sql.SQL(
        "INSERT INTO etl.{table} (raw_id, batch_id, batch_created_at, {columns}) "
        "SELECT raw_id, batch_id, batch_created_at, {values} FROM etl.raw_events "
        "WHERE event_type = %(event_type)s AND batch_id = %(batch_id)s"
    ).format(table=sql.Identifier(schema.table), columns=columns, values=values)


def _copy_raw_events(cur: psycopg2.extensions.cursor, path: Path) -> str:
    """COPY the file into etl.raw_events: by the server when it may read the file, else from this client."""
    columns = sql.SQL(", ").join(map(sql.Identifier, BATCH_FILE_COLUMNS))
    cur.execute("SAVEPOINT server_side_copy")
    try:
        cur.execute(
            sql.SQL("COPY etl.raw_events ({}) FROM {} WITH {}").format(
                columns, sql.Literal(str(path.resolve())), _COPY_OPTIONS
            )
        )
        return "server-side COPY"
    except psycopg2.Error:  # not superuser nor pg_read_server_files, or the server cannot see the file
        cur.execute("ROLLBACK TO SAVEPOINT server_side_copy")
    with open(path, encoding="utf-8") as data:
        cur.copy_expert(
            sql.SQL("COPY etl.raw_events ({}) FROM STDIN WITH {}").format(columns, _COPY_OPTIONS), data
        )
    return "client-side COPY (the server may not read the file)"


def legacy_load(
    conn: psycopg2.extensions.connection, path: Path, batch_id: str
) -> tuple[str, dict[str, int]]:
    """Load the file the legacy way in one transaction; (how it was copied, rows per table)."""
    loaded: dict[str, int] = {}
    with conn, conn.cursor() as cur:
        copy = _copy_raw_events(cur, path)
        loaded["raw_events"] = cur.rowcount
        for schema in EVENT_SCHEMAS:
            cur.execute(legacy_insert(schema), {"event_type": schema.event_type, "batch_id": batch_id})
            loaded[schema.table] = cur.rowcount
    return copy, loaded
