"""The change log of store_daily_sales (`etl.store_daily_sales_changes`, migration 0008), written by whatever
changes sales or products, in its own transaction: a refresh then recomputes only the store-days it names.

A load records one row, its raw_id range (its sales and products are found there by the BRIN index); a reload
records what it deletes (quantities per store, day and product, and the products); a replay what it inserts.
"""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.params import BATCH_ID, PREVIOUS_BASE, RAW_ID_BASE
from etl_project.loading.statements.common import RAW_ID_RANGE
from etl_project.loading.statements.replace import in_load

#: A sale's day: its date in the session's TimeZone (ETL_TIMEZONE), as store_daily_sales counts it.
SALE_DAY = sql.SQL("(sale_date AT TIME ZONE current_setting('TimeZone'))::date")

_QUANTITY_COLUMNS = sql.SQL("kind, raw_id_base, store_id, sale_date, product_id, items, sales_lines")


def record_load() -> sql.Composed:
    """A load's sales and products are its raw_id range (`LoadParams`): one row, whatever the batch's size."""
    return sql.SQL(
        "INSERT INTO etl.store_daily_sales_changes (kind, raw_id_base) VALUES ('load', {})"
    ).format(RAW_ID_BASE)


def _removed(rows: sql.Composable, base: sql.Composable) -> list[sql.Composed]:
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


def record_previous_load_removed() -> list[sql.Composed]:
    """Before a reload deletes the previous load's rows (`PreviousLoadParams`): its sales as negative quantities
    (tagged with its range, see migration 0008) and its products."""
    return _removed(in_load(PREVIOUS_BASE), PREVIOUS_BASE)


def record_legacy_batch_removed() -> list[sql.Composed]:
    """The same for a batch loaded before raw_id ranges existed (`BatchParams`); counted by a rebuild, so its
    negative quantities always apply (no range)."""
    return _removed(sql.SQL("batch_id = {}").format(BATCH_ID), sql.SQL("NULL::bigint"))


def record_replayed_sales(validated: sql.Composable) -> sql.Composed:
    """Late sales a replay inserted (the valid rows of `validated`), tagged with the range of their batch."""
    return sql.SQL(
        "INSERT INTO etl.store_daily_sales_changes ({columns}) "
        "SELECT 'sales', raw_id - mod(raw_id, {width}), store_id, {day}, product_id, sum(quantity), count(*) "
        "FROM {validated} WHERE reason IS NULL GROUP BY 2, 3, 4, 5"
    ).format(columns=_QUANTITY_COLUMNS, width=sql.Literal(RAW_ID_RANGE), day=SALE_DAY, validated=validated)
