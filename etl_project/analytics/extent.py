"""How much etl.store_daily_sales holds: store-days and the days they span (the whole table, not a refresh)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg2.extensions

from etl_project.store.rows import one_row


@dataclass(frozen=True)
class TableExtent:
    store_days: int
    first_day: date | None
    last_day: date | None


def store_daily_sales_extent(conn: psycopg2.extensions.connection) -> TableExtent:
    """One pass over the table (a row per store and day: small next to the sales it sums)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), min(sale_date), max(sale_date) FROM etl.store_daily_sales")
        return TableExtent(*one_row(cur))
