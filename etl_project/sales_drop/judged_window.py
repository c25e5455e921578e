"""What sales_drop_check judges, fingerprinted: the as-of day, the store_daily_sales rows of that day and of the
7 days before it, the stores' names and statuses, and the rule's settings.

store_daily_sales returns the fingerprint as its data version, so the check's automation condition can tell a
refresh that changed the judged window from one that only changed other days.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import psycopg2.extensions

from etl_project.sales_drop.rule import RuleSettings, settings_fingerprint
from etl_project.sales_drop.sql import sales_drop_query
from etl_project.store.rows import one_row


@dataclass(frozen=True)
class JudgedWindow:
    as_of: date
    rows: int  # store-days of store_daily_sales in the 8 days
    fingerprint: str  # `<as_of>/<digest>`: the data version of store_daily_sales


def judged_window(conn: psycopg2.extensions.connection, rule: RuleSettings, as_of: date) -> JudgedWindow:
    """Fingerprint the inputs of sales_drop_check for `as_of` (one indexed read of 8 days, milliseconds)."""
    with conn, conn.cursor() as cur:
        cur.execute(sales_drop_query("judged_window"), {"as_of_date": as_of})
        rows, window, stores = one_row(cur)
    digest = hashlib.sha256(f"{as_of}|{window}|{stores}|{settings_fingerprint(rule)}".encode()).hexdigest()[
        :16
    ]
    return JudgedWindow(as_of, int(rows), f"{as_of}/{digest}")
