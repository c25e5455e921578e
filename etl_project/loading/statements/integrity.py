"""Referential integrity of the event tables: rows whose store, product or order does not exist.

The loader never inserts such a row (references are validated) and never removes a referenced one (a reload
that would is refused, `kept_references`); these queries are the independent guard that says so. They are
generated from the schemas' `references`, one query per referencing table, counting each reference apart.
"""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import RAW_ID_BASE, REMOVED_IDS
from etl_project.loading.statements.common import event_table
from etl_project.loading.statements.replace import in_load
from etl_project.schemas import EVENT_SCHEMAS, EventSchema, PayloadField

#: Batches named in a finding.
SHOWN_BATCHES = 5


def referencing_schemas() -> list[tuple[EventSchema, list[PayloadField]]]:
    """Each table with references, and its referencing fields."""
    found = []
    for schema in EVENT_SCHEMAS:
        fields = [field for field in schema.fields if field.references]
        if fields:
            found.append((schema, fields))
    return found


def _dangling(
    schema: EventSchema, fields: list[PayloadField], scope: str
) -> tuple[list[sql.Composable], list[sql.Composable], sql.Composable]:
    """(joins, one "reference missing" condition per field, the scope's condition) of the queries below."""
    joins: list[sql.Composable] = []
    missing: list[sql.Composable] = []
    for number, field in enumerate(fields):
        alias = sql.Identifier(f"r{number}")
        column = sql.SQL("s.{}").format(sql.Identifier(field.name))
        joins.append(
            sql.SQL("LEFT JOIN {} {} ON {}.id = {}").format(
                event_table(str(field.references)), alias, alias, column
            )
        )
        missing.append(sql.SQL("({}.id IS NULL AND {} IS NOT NULL)").format(alias, column))
    where = {
        "all": sql.SQL("true"),
        "load": in_load(RAW_ID_BASE, alias="s"),
        "removed": sql.SQL(" OR ").join(
            sql.SQL("s.{} = ANY({})").format(sql.Identifier(f.name), REMOVED_IDS) for f in fields
        ),
    }[scope]
    return joins, missing, where


def count_dangling(schema: EventSchema, fields: list[PayloadField], scope: str) -> sql.Composed:
    """Rows of `schema` in `scope` whose field references a missing row, one count per field, in one pass
    (every lookup hashed). `scope`: "all" (every row: the daily check), "load" (the load's raw_id range,
    `LoadParams`), or "removed" (rows referencing one of `removed_ids`, `RemovedIdsParams`)."""
    joins, missing, where = _dangling(schema, fields, scope)
    return sql.SQL("SELECT {} FROM {} s {} WHERE {}").format(
        sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE {})").format(m) for m in missing),
        event_table(schema.table),
        sql.SQL(" ").join(joins),
        where,
    )


def batches_with_dangling(schema: EventSchema, fields: list[PayloadField], scope: str) -> sql.Composed:
    """Some batches holding such rows (asked only when `count_dangling` found any)."""
    joins, missing, where = _dangling(schema, fields, scope)
    return sql.SQL("SELECT DISTINCT s.batch_id FROM {} s {} WHERE ({}) AND ({}) ORDER BY 1 LIMIT {}").format(
        event_table(schema.table),
        sql.SQL(" ").join(joins),
        where,
        sql.SQL(" OR ").join(missing),
        sql.Literal(SHOWN_BATCHES),
    )
