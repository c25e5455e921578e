"""SQL pieces several stages share: table names, the raw_id range, batch_created_at as a timestamp."""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import USUAL_BATCH_CREATED_AT
from etl_project.loading.value_checks import timestamp_text_ok
from etl_project.schemas import EVENT_SCHEMAS, EventSchema
from etl_project.store.processed_files import RAW_ID_RANGE as RAW_ID_RANGE

#: Longest excerpt of an offending value quoted in a rejection reason.
SHOWN_VALUE_CHARS = 80
#: Width of a load's raw_id range: raw_id = load number * 2^32 + row of the file (the ledger's, re-exported).

#: Storage of a load's staging tables: read once or twice within seconds, then dropped; autovacuum visiting
#: them mid-load would only take a core from the load.
SCRATCH = sql.SQL("WITH (autovacuum_enabled = false)")
REJECTED_EVENTS = sql.SQL("etl.rejected_events")
#: Columns of `etl.rejected_events` a load fills, in the order of a staging rejections table.
REJECTION_COLUMNS = (
    "raw_id",
    "batch_id",
    "batch_created_at",
    "rejection_reason",
    "payload",
    "event_type",
    "file_row",
)

KNOWN_TYPES = sql.SQL(", ").join(sql.Literal(s.event_type) for s in EVENT_SCHEMAS)
BATCH_CREATED_AT_OK = timestamp_text_ok(sql.SQL("s.batch_created_at"))


def event_table(name: str) -> sql.Composed:
    """`etl.<name>`."""
    return sql.SQL("etl.{}").format(sql.Identifier(name))


def event_columns(schema: EventSchema) -> tuple[str, ...]:
    """Columns of the schema's table a load fills (an entity's id included: the load assigns it)."""
    ids = ("id",) if schema.is_entity else ()
    return ("raw_id", "batch_id", "batch_created_at", *ids, *(f.name for f in schema.fields))


def shown(expr: sql.Composable) -> sql.Composed:
    """An offending value quoted for a rejection reason, cut to a readable length."""
    return sql.SQL("quote_literal(left(coalesce({}, 'null'), {}))").format(
        expr, sql.Literal(SHOWN_VALUE_CHARS)
    )


def has_zone(text: sql.Composable) -> sql.Composed:
    """True when a valid timestamp text carries `Z` or an offset (after its date: a date alone has none)."""
    return sql.SQL("(substr({}, 12) ~ '[Z+-]')").format(text)


def local_timestamp(text: sql.Composable) -> sql.Composed:
    """A valid timestamp text as a naive timestamp: as written when it has no zone, else converted to the
    session's TimeZone (ETL_TIMEZONE) rather than having its offset dropped, as a plain cast would."""
    return sql.SQL("CASE WHEN {zoned} THEN ({t})::timestamptz::timestamp ELSE ({t})::timestamp END").format(
        zoned=has_zone(text), t=text
    )


def created_at(row: str) -> sql.Composed:
    """`<row>.batch_created_at` (valid by now) as a timestamp; the file's usual value by one comparison."""
    return sql.SQL(
        "CASE WHEN {row}.batch_created_at = {usual} THEN {usual}::timestamp ELSE {local} END"
    ).format(
        row=sql.Identifier(row),
        usual=USUAL_BATCH_CREATED_AT,
        local=local_timestamp(sql.SQL("{}.batch_created_at").format(sql.Identifier(row))),
    )


def analyze(table: sql.Composable, *columns: str) -> sql.Composed:
    if not columns:
        return sql.SQL("ANALYZE {}").format(table)
    return sql.SQL("ANALYZE {} ({})").format(table, sql.SQL(", ").join(map(sql.Identifier, columns)))


def relation_pages(regclass: str) -> sql.Composed:
    """Pages of a table (`regclass` names it, e.g. `etl_staging.load_7_part1`)."""
    return sql.SQL("SELECT pg_relation_size({}::regclass) / current_setting('block_size')::int").format(
        sql.Literal(regclass)
    )
