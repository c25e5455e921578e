"""Finding a batch's rows and replacing an earlier load of it.

A load's raw events are numbered `raw_id_base + file_row` (`RAW_ID_RANGE` wide), so a batch's rows are one
raw_id range in every table: found by a range scan, without a text index on batch_id.
"""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import BATCH_ID, PREVIOUS_BASE, RAW_ID_BASE
from etl_project.loading.statements.common import RAW_ID_RANGE, event_table
from etl_project.schemas import EVENT_SCHEMAS

#: Tables holding a batch's rows by raw_id, children before parents.
RAW_ID_TABLES: tuple[str, ...] = (*(s.table for s in reversed(EVENT_SCHEMAS)), "raw_events")


def in_load(base: sql.Placeholder, alias: str | None = None) -> sql.Composed:
    """The rows (of `alias`, when given) of the load whose raw_id range starts at `base`."""
    column = sql.Identifier(alias, "raw_id") if alias else sql.Identifier("raw_id")
    return sql.SQL("{c} > {p} AND {c} < {p} + {width}").format(
        c=column, p=base, width=sql.Literal(RAW_ID_RANGE)
    )


def delete_previous_load(table: str) -> sql.Composed:
    """Rows of the batch's previous load (`PreviousLoadParams`), found by their raw_id range."""
    return sql.SQL("DELETE FROM {} WHERE {}").format(event_table(table), in_load(PREVIOUS_BASE))


def delete_by_batch_id(table: str) -> sql.Composed:
    """Rows of a batch loaded before raw_id ranges existed (a scan; only for such legacy batches; `BatchParams`)."""
    return sql.SQL("DELETE FROM {} WHERE batch_id = {}").format(event_table(table), BATCH_ID)


def delete_rejections() -> sql.Composed:
    """The batch's rejections (`BatchParams`)."""
    return sql.SQL("DELETE FROM etl.rejected_events WHERE batch_id = {}").format(BATCH_ID)


def select_batch_preview(table: str, limit: int) -> sql.Composed:
    """The first rows of this load (`LoadParams`) in `etl.<table>`."""
    return sql.SQL("SELECT * FROM {} WHERE {} ORDER BY raw_id LIMIT {}").format(
        event_table(table), in_load(RAW_ID_BASE), sql.Literal(limit)
    )
