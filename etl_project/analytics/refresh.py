"""Refreshing etl.store_daily_sales: incrementally from the change log the loads write, or by a full rebuild.

The refresh runs in one REPEATABLE READ transaction: the change-log rows it consumes (deletes) and the sales and
products it reads come from the same snapshot. A load writes its change-log row in its own transaction, so a
load that commits while a refresh runs is either wholly in the refresh's snapshot (rows and change row,
consumed once) or wholly out of it (its change row stays for the next refresh): never missed, never counted
twice. Loads only insert change rows and a refresh only deletes the ones it saw, so the two never conflict;
refreshes queue on an advisory lock, taken before the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import psycopg2.extensions

from etl_project.queries import analytic_query
from etl_project.store.locks import STORE_DAILY_SALES_REFRESH_LOCK_ID
from etl_project.store.processed_files import RAW_ID_RANGE
from etl_project.store.rows import one_row
from etl_project.store.sales_changes import pending_changes

INCREMENTAL = "incremental"
FULL = "full"


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: which kind ran, how many store-days it recomputed and which days they span."""

    kind: str
    store_days: int
    changes_consumed: int
    first_day: date | None
    last_day: date | None


def refresh_store_daily_sales(conn: psycopg2.extensions.connection, full: bool = False) -> RefreshReport:
    """Bring etl.store_daily_sales up to date with the committed loads; a full rebuild when `full`, or when
    the change log asks for one (a 'rebuild' row: migration 0008 writes one)."""
    with _one_refresh_at_a_time(conn), conn, conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        changes, rebuild_requested = pending_changes(cur)
        kind = FULL if full or rebuild_requested else INCREMENTAL
        query = "refresh_store_daily_sales" if kind == FULL else "refresh_store_daily_sales_incremental"
        cur.execute(analytic_query(query), {"raw_id_range": RAW_ID_RANGE})
        store_days, first_day, last_day = one_row(cur)
    return RefreshReport(kind, store_days, changes, first_day, last_day)


@contextmanager
def _one_refresh_at_a_time(conn: psycopg2.extensions.connection) -> Iterator[None]:
    """A session advisory lock, taken in a transaction of its own so that the refresh's snapshot is taken
    after it (a refresh waiting here then sees everything the previous one consumed)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (STORE_DAILY_SALES_REFRESH_LOCK_ID,))
    try:
        yield
    finally:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (STORE_DAILY_SALES_REFRESH_LOCK_ID,))
