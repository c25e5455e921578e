"""The sales-drop rule applied to one day (etl_project/sales_drop/sales_drop.sql), and the verdict read from it.

For each active store, the amount of the day against the average of the 7 days before (days without sales
count as zero); a store is flagged at or below the threshold when its baseline is at least the minimum. A day
on which no store has any sale is "no sales data", not every store at -100%.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg2.extensions

from etl_project.sales_drop.rule import RuleSettings
from etl_project.sales_drop.sql import sales_drop_query
from etl_project.store.rows import one_row


@dataclass(frozen=True)
class StoreSalesDrop:
    """One flagged store, as shown in the UI and sent to Slack."""

    store_id: int
    store_name: str
    as_of_amount: float
    baseline_amount: float
    percent_change: float


@dataclass(frozen=True)
class SalesDropFindings:
    as_of_date: date
    stores_examined: int
    below_min_baseline: int
    flagged: list[StoreSalesDrop]
    stores_with_sales: int  # stores (any status) with a sale on the day: 0 means no sales data at all
    amount_of_the_day: float
    #: The examined stores' 7-day averages summed: 0 when nothing was sold in the days before either.
    baseline_amount: float = 0.0


def find_sales_drops(
    conn: psycopg2.extensions.connection, rule: RuleSettings, as_of: date
) -> SalesDropFindings:
    """Evaluate the rule for `as_of`, in one transaction."""
    with conn, conn.cursor() as cur:
        cur.execute(
            sales_drop_query("sales_drop"),
            {
                "as_of_date": as_of,
                "threshold_percent": rule.threshold_percent,
                "min_baseline_amount": rule.min_baseline_amount,
            },
        )
        rows = cur.fetchall()
        cur.execute(
            "SELECT count(*), coalesce(sum(amount), 0) FROM etl.store_daily_sales WHERE sale_date = %s",
            (as_of,),
        )
        stores_with_sales, amount = one_row(cur)
    flagged = [
        StoreSalesDrop(int(store_id), name, float(amount), float(baseline), float(pct))
        for store_id, name, amount, baseline, pct, _, is_flagged in rows
        if is_flagged
    ]
    below = sum(1 for *_, large_enough, _ in rows if not large_enough)
    baseline = sum(float(row[3]) for row in rows)
    return SalesDropFindings(
        as_of, len(rows), below, flagged, int(stores_with_sales), float(amount), baseline
    )


@dataclass(frozen=True)
class Verdict:
    """What the check reports: passed or not, the stores flagged (none on a day without sales data), in words."""

    passed: bool
    no_sales_data: bool
    flagged: list[StoreSalesDrop]
    description: str


def judge(findings: SalesDropFindings, rule: RuleSettings, final: bool) -> Verdict:
    """The verdict on `findings`; `final` once the day's scheduled verdict time has passed."""
    as_of = findings.as_of_date
    no_sales_data = findings.stores_with_sales == 0
    flagged = [] if no_sales_data else findings.flagged
    if no_sales_data and not findings.baseline_amount:
        description = (
            f"No sales data for {as_of}: no store has any sale that day, nor in the 7 days before (nothing to "
            "compare: not announced; missing files are the silence alert's)"
        )
    elif no_sales_data:
        description = f"No sales data for {as_of}: no store has any sale that day"
    elif flagged:
        description = (
            f"{len(flagged)} of {findings.stores_examined} stores fell "
            f"{abs(rule.threshold_percent):g}% or more on {as_of}"
        )
    else:
        description = f"No store fell sharply on {as_of} ({findings.stores_examined} examined)"
    return Verdict(
        passed=not flagged and not no_sales_data,
        no_sales_data=no_sales_data,
        flagged=flagged,
        description=f"{description} ({'final' if final else 'provisional'})",
    )
