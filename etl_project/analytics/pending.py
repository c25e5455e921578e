"""What is waiting for a refresh of etl.store_daily_sales: the change-log rows no refresh has consumed yet."""

from dataclasses import dataclass

import psycopg2.extensions

from etl_project.store.rows import one_row


@dataclass(frozen=True)
class PendingChanges:
    """Change-log rows not yet consumed: how many, and the oldest one's id (None when there are none)."""

    count: int
    oldest_change_id: int | None


def pending_changes(conn: psycopg2.extensions.connection) -> PendingChanges:
    """The committed change-log rows a refresh would consume now (a primary-key range: cheap at any size)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), min(change_id) FROM etl.store_daily_sales_changes")
        count, oldest = one_row(cur)
    return PendingChanges(count, oldest)
