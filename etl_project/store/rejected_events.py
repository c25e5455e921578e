"""`etl.rejected_events`: the grammar of its reasons, and what others read of it.

A reason is `<category>: <detail>`; the category (before the separator) is what run metadata counts and what the
replay of late data selects on. The loader builds reasons (`etl_project.loading.rejections`) and writes the rows
inside its load; reasons are parsed here only, in SQL (`category_sql`) and in Python (`category_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import psycopg2.extensions
from psycopg2 import sql

from etl_project.store.processed_files import LOADED

SEPARATOR: Final = ":"


def category_sql(reason_column: sql.Composable) -> sql.Composed:
    """SQL: the category of a reason column."""
    return sql.SQL("split_part({}, {}, 1)").format(reason_column, sql.Literal(SEPARATOR))


def category_of(rejection_reason: str) -> str:
    """The category of a reason string."""
    return rejection_reason.split(SEPARATOR, 1)[0]


def categories_since(cur: psycopg2.extensions.cursor, since: datetime) -> list[tuple[str, int]]:
    """Rejected rows of the files loaded since `since`, counted by category, most frequent first (`etl status`)."""
    cur.execute(
        sql.SQL(
            "SELECT {}, count(*) FROM etl.rejected_events r "
            "JOIN utilities.processed_files f ON f.batch_id = r.batch_id "
            "WHERE f.status = %s AND f.loaded_at >= %s GROUP BY 1 ORDER BY 2 DESC, 1"
        ).format(category_sql(sql.SQL("r.rejection_reason"))),
        (LOADED, since),
    )
    return cur.fetchall()
