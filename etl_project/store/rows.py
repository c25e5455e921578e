"""Reading a query's single row: `one_row` for queries that always return one (an aggregate, RETURNING)."""

from __future__ import annotations

from typing import Any

import psycopg2.extensions


def one_row(cur: psycopg2.extensions.cursor) -> tuple[Any, ...]:
    """The row of a query that returns exactly one (count(*), now(), ...); a missing row is a bug."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("the query returned no row where it always returns one")
    return row
