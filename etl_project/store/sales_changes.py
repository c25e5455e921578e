"""The change log of store_daily_sales (`etl.store_daily_sales_changes`, migration 0008), written by whatever
changes sales or products, in its own transaction: a refresh then recomputes only the store-days it names.

A load records one row, its raw_id range (its sales and products are found there by the BRIN index); a reload
records what it deletes (quantities per store, day and product, and the products); a replay what it inserts.
The writers' statements take the loader's placeholders as arguments; the refresh reads what is pending
(`pending_changes`) and consumes it in its own SQL (etl_db/queries/refresh_store_daily_sales*.sql).
"""

from __future__ import annotations

from typing import Literal

import psycopg2.extensions
from psycopg2 import sql

from etl_project.store.processed_files import RAW_ID_RANGE
from etl_project.store.rows import one_row

#: A change row: a load's raw_id range, sales removed or added, a product changed, or "rebuild everything".
ChangeKind = Literal["load", "sales", "product", "rebuild"]

#: A sale's day: its date in the session's TimeZone (ETL_TIMEZONE), as store_daily_sales counts it.
SALE_DAY = sql.SQL("(sale_date AT TIME ZONE current_setting('TimeZone'))::date")

_QUANTITY_COLUMNS = sql.SQL("kind, raw_id_base, store_id, sale_date, product_id, items, sales_lines")


def record_load(raw_id_base: sql.Composable) -> sql.Composed:
    """A load's sales and products are its raw_id range: one row, whatever the batch's size."""
    return sql.SQL(
        "INSERT INTO etl.store_daily_sales_changes (kind, raw_id_base) VALUES ('load', {})"
    ).format(raw_id_base)


def record_removed(rows: sql.Composable, base: sql.Composable) -> list[sql.Composed]:
    """Before a reload deletes `rows` of sales and products: the sales as negative quantities tagged with the
    previous load's range `base` (NULL for a batch loaded before ranges existed, counted by a rebuild, so its
    negative quantities always apply; see migration 0008), and the products."""
    return [
        sql.SQL(
            "INSERT INTO etl.store_daily_sales_changes ({columns}) "
            "SELECT 'sales', {base}, store_id, {day}, product_id, -sum(quantity), -count(*) "
            "FROM etl.sales WHERE {rows} GROUP BY store_id, {day}, product_id"
        ).format(columns=_QUANTITY_COLUMNS, base=base, day=SALE_DAY, rows=rows),
        sql.SQL(
            "INSERT INTO etl.store_daily_sales_changes (kind, product_id) "
            "SELECT 'product', id FROM etl.products WHERE {rows}"
        ).format(rows=rows),
    ]


def record_replayed_sales(validated: sql.Composable) -> sql.Composed:
    """Late sales a replay inserted (the valid rows of `validated`), tagged with the range of their batch."""
    return sql.SQL(
        "INSERT INTO etl.store_daily_sales_changes ({columns}) "
        "SELECT 'sales', raw_id - mod(raw_id, {width}), store_id, {day}, product_id, sum(quantity), count(*) "
        "FROM {validated} WHERE reason IS NULL GROUP BY 2, 3, 4, 5"
    ).format(columns=_QUANTITY_COLUMNS, width=sql.Literal(RAW_ID_RANGE), day=SALE_DAY, validated=validated)


def pending_changes(cur: psycopg2.extensions.cursor) -> tuple[int, bool]:
    """(change rows not consumed yet, whether one of them asks for a full rebuild), in the caller's snapshot."""
    cur.execute(
        "SELECT count(*), coalesce(bool_or(kind = 'rebuild'), false) FROM etl.store_daily_sales_changes"
    )
    changes, rebuild = one_row(cur)
    return int(changes), bool(rebuild)
