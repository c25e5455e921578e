"""Drift: the tables the migrations create match the declarations in `etl_project.schemas`.

The event tables are written by hand in `etl_db/migrations/`; the loader's SQL and the assets' column
metadata are generated from `EVENT_SCHEMAS`. Read from `information_schema.columns` of a migrated database:
each event table has the lineage columns and exactly one column per declared field, of the SQL type the
field's `FieldType` declares, NOT NULL when the field is required.
"""

import psycopg2.extensions
import pytest

from etl_project.loading.statements.common import REJECTION_COLUMNS, event_columns
from etl_project.schemas import EVENT_SCHEMAS, EventSchema

pytestmark = pytest.mark.every_postgres_major

#: Columns every event table has besides its payload fields: where the row came from, and its id.
LINEAGE_COLUMNS = {
    "raw_id": "bigint",
    "batch_id": "text",
    "batch_created_at": "timestamp without time zone",
    "id": "bigint",
}


def _columns(cur: psycopg2.extensions.cursor, schema: str, table: str) -> dict[str, tuple[str, bool]]:
    """column -> (SQL type as information_schema spells it, with numeric precision and scale; nullable)."""
    cur.execute(
        "SELECT column_name, data_type, numeric_precision, numeric_scale, is_nullable = 'YES' "
        "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    columns = {}
    for name, data_type, precision, scale, nullable in cur.fetchall():
        if data_type == "numeric" and precision is not None:
            data_type = f"numeric({precision},{scale})"
        columns[name] = (data_type, nullable)
    return columns


def _spelt_as_information_schema(cur: psycopg2.extensions.cursor, declared: str) -> str:
    """A declared SQL type (`timestamptz`, `numeric(14,2)`) as information_schema spells it; PostgreSQL
    resolves the name, so an alias (`int8`, `timestamptz`) compares equal to the canonical name."""
    base, _, modifiers = declared.partition("(")
    cur.execute("SELECT %s::regtype::text", (base,))
    name = cur.fetchone()[0]
    return f"{name}({modifiers.replace(' ', '')}" if modifiers else name


@pytest.mark.parametrize("schema", EVENT_SCHEMAS, ids=lambda s: s.table)
def test_event_table_matches_its_schema(schema: EventSchema, db):
    with db.cursor() as cur:
        columns = _columns(cur, "etl", schema.table)
        assert columns, f"etl.{schema.table} does not exist"
        expected = dict(LINEAGE_COLUMNS)
        for field in schema.fields:
            expected[field.name] = _spelt_as_information_schema(cur, field.type.value)
    assert {name: type_ for name, (type_, _) in columns.items()} == expected, (
        f"etl.{schema.table} differs from its declaration in etl_project/schemas.py"
    )
    nullable = sorted(f.name for f in schema.fields if f.required and columns[f.name][1])
    assert not nullable, f"required fields of {schema.event_type} are nullable in etl.{schema.table}"
    assert set(event_columns(schema)) <= set(columns), "a load fills a column the table lacks"


def test_rejected_events_has_the_columns_a_load_fills(db):
    with db.cursor() as cur:
        columns = _columns(cur, "etl", "rejected_events")
    assert set(REJECTION_COLUMNS) <= set(columns)
    assert not columns["rejection_reason"][1], "every rejection has a reason"
