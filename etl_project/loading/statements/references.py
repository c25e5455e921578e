"""Stage 3b: what a row's fields cannot tell alone: whether the rows it references exist, and, for entity
tables, whether its id is new. Checked only for rows whose fields passed (`validate` runs this after `fields`).

Where those rows are looked for is the caller's `RowsOf`: a load looks in its own batch first (a small hash
table), and only then, by primary key, in other batches' rows; a replay and the writer look in the tables.
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg2 import sql

from etl_project.loading import rejections as r
from etl_project.loading.params import BATCH_ID
from etl_project.loading.statements.common import event_table
from etl_project.schemas import EventSchema

#: Where references and duplicate ids of a table are looked for: relations with `id` and `batch_id`, an id
#: being in at most one of them. The first is hash-joined (keep it small: the batch's own rows); the others are
#: probed by primary key, and only for ids the ones before did not have.
RowsOf = Callable[[str], list[sql.Composable]]


def committed_rows(table: str) -> list[sql.Composable]:
    """References resolve against the table as it stands (a replay: the batch's rows are in it)."""
    return [event_table(table)]


def rows_visible_to_batch(table: str, batch_rows: sql.Composable) -> list[sql.Composable]:
    """References of a batch being loaded resolve against this batch's valid rows (`batch_rows`, the load's
    entity table) and, for ids not there, other batches' rows. Hashing a large table for every slice is what
    this avoids (5M orders of other batches: a 160k-row slice took 1.9 s instead of 0.55 s).

    Other batches only: the earlier load of this batch is being replaced (its rows are deleted by the same load).
    """
    others = sql.SQL("(SELECT id, batch_id FROM {} WHERE batch_id <> {})").format(
        event_table(table), BATCH_ID
    )
    return [batch_rows, others]


def rows_known_to_writer(table: str, batch_rows: sql.Composable) -> list[sql.Composable]:
    """The writer's view: this batch's valid rows (`batch_rows`, also in `etl.<table>` by then), then the table."""
    return [batch_rows, event_table(table)]


def _batch_of(
    joins: list[sql.Composable], relations: list[sql.Composable], name: str, id_value: sql.Composable
) -> sql.Composed:
    """SQL giving the batch_id of the row with id `id_value` in `relations`, NULL when there is none.

    The first relation is LEFT JOINed (appended to `joins`); the others are looked up only when it has no row,
    so that ids of the batch itself never reach a large table's index.
    """
    alias = sql.Identifier(name)
    joins.append(
        sql.SQL("LEFT JOIN {} {alias} ON {alias}.id = {}").format(relations[0], id_value, alias=alias)
    )
    lookups = [
        sql.SQL("(SELECT r.batch_id FROM {} r WHERE r.id = {} LIMIT 1)").format(relation, id_value)
        for relation in relations[1:]
    ]
    return sql.SQL("coalesce({})").format(
        sql.SQL(", ").join([sql.SQL("{}.batch_id").format(alias), *lookups])
    )


def reference_checks(
    schema: EventSchema, rows_of: RowsOf
) -> tuple[list[sql.Composable], list[sql.Composable]]:
    """(joins, checks) for the rows `v` of `schema` whose fields passed: the joins to add after `v`, and one
    reason expression (NULL when fine) per reference, then, for entities, per way an id can be a duplicate."""
    joins: list[sql.Composable] = []
    checks: list[sql.Composable] = []
    for field in schema.fields:
        if not field.references:
            continue
        column = sql.SQL("v.{}").format(sql.Identifier(field.name))
        found = _batch_of(joins, rows_of(field.references), f"ref_{field.name}", column)
        checks.append(
            sql.SQL("CASE WHEN {found} IS NULL THEN {msg} || {column} END").format(
                found=found,
                msg=r.reason(r.unknown_reference(field.name), f"no row in etl.{field.references} with id "),
                column=column,
            )
        )
    if schema.is_entity:
        existing = _batch_of(joins, rows_of(schema.table), "existing", sql.SQL("v.id"))
        checks.append(
            sql.SQL(
                "CASE WHEN v.id IS NOT NULL AND {batch} IS NOT NULL THEN {msg} || v.id || "
                "' was already loaded by batch ' || quote_literal({batch}) END"
            ).format(batch=existing, msg=r.reason(r.DUPLICATE_ID))
        )
        checks.append(
            sql.SQL(
                "CASE WHEN v.id IS NOT NULL AND row_number() OVER (PARTITION BY v.id ORDER BY v.file_row) > 1 "
                "THEN {msg} || v.id || ' appears earlier in this batch' END"
            ).format(msg=r.reason(r.DUPLICATE_ID))
        )
    return joins, checks
