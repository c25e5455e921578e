"""`utilities.sales_drop_alerts`: which (store, day) drops were announced, so that each is announced once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg2.extensions


def announced(cur: psycopg2.extensions.cursor, as_of: date | str, store_ids: list[int]) -> set[int]:
    """Those of `store_ids` already announced for `as_of`."""
    cur.execute(
        "SELECT store_id FROM utilities.sales_drop_alerts WHERE as_of_date = %s AND store_id = ANY(%s)",
        (as_of, store_ids),
    )
    return {row[0] for row in cur.fetchall()}


def record_announced(
    cur: psycopg2.extensions.cursor, as_of: date | str, store_ids: Iterable[int], message_id: int
) -> None:
    cur.executemany(
        "INSERT INTO utilities.sales_drop_alerts (store_id, as_of_date, message_id) VALUES (%s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        [(store_id, as_of, message_id) for store_id in store_ids],
    )
