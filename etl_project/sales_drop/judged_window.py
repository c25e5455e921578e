"""What sales_drop_check judges, fingerprinted: the as-of day, the store_daily_sales rows of that day and of the
7 days before it, the stores' names and statuses, and the rule's settings.

store_daily_sales returns the fingerprint as its data version, so the check's automation condition
(checks.py) can tell a refresh that changed the judged window from one that only changed other days.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import dagster as dg
import psycopg2.extensions

from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.defs.sales_analytics.verdict import AS_OF_TAG
from etl_project.queries import analytic_query


def judged_day(run_tags: Mapping[str, str], rules: SalesDropRules) -> date:
    """The run's etl/sales_drop_as_of tag (daily_sales_verdict_schedule), else the rule's as-of day."""
    tagged = run_tags.get(AS_OF_TAG)
    return date.fromisoformat(tagged) if tagged else rules.evaluation_date()


@dataclass(frozen=True)
class JudgedWindow:
    as_of: date
    rows: int  # store-days of store_daily_sales in the 8 days
    data_version: dg.DataVersion


def judged_window(conn: psycopg2.extensions.connection, rules: SalesDropRules, as_of: date) -> JudgedWindow:
    """Fingerprint the inputs of sales_drop_check for `as_of` (one indexed read of 8 days, milliseconds)."""
    with conn, conn.cursor() as cur:
        cur.execute(analytic_query("sales_drop_window"), {"as_of_date": as_of})
        rows, window, stores = cur.fetchone()
    settings = (
        f"{rules.threshold_percent}:{rules.min_baseline_amount}:{rules.timezone}:{rules.verdict_schedule}"
    )
    digest = hashlib.sha256(f"{as_of}|{window}|{stores}|{settings}".encode()).hexdigest()[:16]
    return JudgedWindow(as_of, rows, dg.DataVersion(f"{as_of}/{digest}"))
