"""`sales_drop_check`: warns when an active store's sales fell sharply against its own recent average."""

from dataclasses import asdict, dataclass
from datetime import date

import dagster as dg

from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.queries import analytic_query
from etl_project.resources import EtlDatabase


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


def find_sales_drops(etl_database: EtlDatabase, rules: SalesDropRules) -> SalesDropFindings:
    """Evaluate the rule of `etl_db/queries/sales_drop.sql` for the rules' as-of date."""
    as_of = rules.evaluation_date()
    with etl_database.connect() as conn, conn, conn.cursor() as cur:
        cur.execute(
            analytic_query("sales_drop"),
            {
                "as_of_date": as_of,
                "threshold_percent": rules.threshold_percent,
                "min_baseline_amount": rules.min_baseline_amount,
            },
        )
        rows = cur.fetchall()
    flagged = [
        StoreSalesDrop(int(store_id), name, float(amount), float(baseline), float(pct))
        for store_id, name, amount, baseline, pct, _, is_flagged in rows
        if is_flagged
    ]
    below = sum(1 for *_, large_enough, _ in rows if not large_enough)
    return SalesDropFindings(as_of, len(rows), below, flagged)


def _markdown_table(flagged: list[StoreSalesDrop]) -> str:
    lines = ["| store | id | as-of amount | 7-day average | change |", "|---|---|---:|---:|---:|"]
    lines += [
        f"| {s.store_name} | {s.store_id} | {s.as_of_amount:,.2f} | {s.baseline_amount:,.2f} | {s.percent_change:+.1f}% |"
        for s in flagged
    ]
    return "\n".join(lines)


@dg.asset_check(asset=store_daily_sales, name="sales_drop_check", blocking=False)
def sales_drop_check(etl_database: EtlDatabase, sales_drop_rules: SalesDropRules) -> dg.AssetCheckResult:
    """Warns when an active store's sales yesterday fell at or below the threshold (default -20%) against
    the average of the 7 days before, counting days without sales as zero. Stores with a small baseline,
    closed stores and test stores are not flagged. Failures are posted to Slack by sales_drop_slack_sensor.
    """
    findings = find_sales_drops(etl_database, sales_drop_rules)
    metadata: dict[str, object] = {
        "as_of_date": findings.as_of_date.isoformat(),
        "threshold_percent": sales_drop_rules.threshold_percent,
        "min_baseline_amount": sales_drop_rules.min_baseline_amount,
        "stores_examined": findings.stores_examined,
        "stores_below_min_baseline": findings.below_min_baseline,
        "stores_flagged": len(findings.flagged),
        "flagged_stores": dg.MetadataValue.json([asdict(s) for s in findings.flagged]),
    }
    if findings.flagged:
        metadata["flagged_table"] = dg.MetadataValue.md(_markdown_table(findings.flagged))
        description = (
            f"{len(findings.flagged)} of {findings.stores_examined} stores fell "
            f"{abs(sales_drop_rules.threshold_percent):g}% or more on {findings.as_of_date}"
        )
    else:
        description = f"No store fell sharply on {findings.as_of_date} ({findings.stores_examined} examined)"
    return dg.AssetCheckResult(
        passed=not findings.flagged,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )
