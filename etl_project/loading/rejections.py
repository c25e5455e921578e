"""Rejection reasons: stable strings `<category>: <detail>`, built here; the categories the loader gives.

The category (before the colon) is what run metadata counts and what the replay of late data selects on; the
detail says which value was wrong. SQL builders start a reason with `reason(category, detail)` (a literal the
SQL may append the offending value to). Reasons are parsed by the table's owner, `etl_project.store.
rejected_events` (`category_sql`, `category_of`, re-exported here). A category never contains a colon.
"""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import BATCH_ID
from etl_project.schemas import EventSchema
from etl_project.store.rejected_events import SEPARATOR, category_of, category_sql

__all__ = ["SEPARATOR", "category_of", "category_sql"]  # and the categories and builders below

# Envelope categories: the row never reached etl.raw_events (its raw_id is NULL in etl.rejected_events).
BATCH_MISMATCH = "batch mismatch"
INVALID_BATCH_CREATED_AT = "invalid batch_created_at"
UNKNOWN_EVENT_TYPE = "unknown event type"
MALFORMED_JSON = "malformed JSON"
#: A row Python's csv reader could not take as a row of the header's fields (the careful path only).
UNREADABLE_ROW = "unreadable row"

# Payload categories: the row is in etl.raw_events but not in its event table.
MISSING_FIELD = "missing field"
WRONG_TYPE = "wrong type"
EMPTY_FIELD = "empty field"
NOT_POSITIVE = "not positive"
DUPLICATE_ID = "duplicate id"


def invalid_value(field_name: str) -> str:
    """A value outside the field's allowed values (`invalid status`)."""
    return f"invalid {field_name}"


def unknown_reference(field_name: str) -> str:
    """A reference to a row that is not (yet) loaded (`unknown store_id`): the category a later batch can cure."""
    return f"unknown {field_name}"


def reference_categories(schema: EventSchema) -> list[str]:
    """Rejection categories of the schema that a later batch can cure (a referenced row that had not arrived)."""
    return [unknown_reference(f.name) for f in schema.fields if f.references]


def reason(category: str, detail: str = "") -> sql.Composable:
    """A whole reason, or its start when the SQL appends the offending value (`reason(WRONG_TYPE, "x ") || v`)."""
    if SEPARATOR in category:
        raise ValueError(f"a rejection category cannot contain {SEPARATOR!r}: {category!r}")
    return sql.Literal(f"{category}{SEPARATOR} {detail}")


def count_by_table_and_category() -> sql.Composed:
    """A batch's rejections (`BatchParams`) counted by event type (NULL for envelope rejections) and category."""
    return sql.SQL(
        "SELECT CASE WHEN raw_id IS NULL THEN NULL ELSE event_type END, {}, "
        "count(*) FROM etl.rejected_events WHERE batch_id = {} GROUP BY 1, 2"
    ).format(category_sql(sql.SQL("rejection_reason")), BATCH_ID)
