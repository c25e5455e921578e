"""`sales_drop_check`: warns when an active store's sales fell sharply against its own recent average, or when
a whole day has no sales data at all."""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.judged_window import judged_day
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.defs.sales_analytics.verdict import verdict_due_at
from etl_project.queries import analytic_query
from etl_project.resources import EtlDatabase

#: The columns of the `flagged_stores` table shown in the UI (and read back by sales_drop_slack_sensor).
FLAGGED_STORES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("store", "string"),
        dg.TableColumn("id", "int"),
        dg.TableColumn("amount_of_the_day", "float"),
        dg.TableColumn("seven_day_average", "float"),
        dg.TableColumn("change_percent", "float"),
    ]
)


@dataclass(frozen=True)
class StoreSalesDrop:
    """One flagged store, as shown in the UI and sent to Slack."""

    store_id: int
    store_name: str
    as_of_amount: float
    baseline_amount: float
    percent_change: float

    def as_record(self) -> dg.TableRecord:
        return dg.TableRecord(
            {
                "store": self.store_name,
                "id": self.store_id,
                "amount_of_the_day": self.as_of_amount,
                "seven_day_average": self.baseline_amount,
                "change_percent": self.percent_change,
            }
        )


@dataclass(frozen=True)
class SalesDropFindings:
    as_of_date: date
    stores_examined: int
    below_min_baseline: int
    flagged: list[StoreSalesDrop]
    stores_with_sales: int  # stores (any status) with a sale on the day: 0 means no sales data at all
    amount_of_the_day: float


def find_sales_drops(etl_database: EtlDatabase, rules: SalesDropRules, as_of: date) -> SalesDropFindings:
    """Evaluate the rule of `etl_db/queries/sales_drop.sql` for `as_of`."""
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
        cur.execute(
            "SELECT count(*), coalesce(sum(amount), 0) FROM etl.store_daily_sales WHERE sale_date = %s",
            (as_of,),
        )
        stores_with_sales, amount = cur.fetchone()
    flagged = [
        StoreSalesDrop(int(store_id), name, float(amount), float(baseline), float(pct))
        for store_id, name, amount, baseline, pct, _, is_flagged in rows
        if is_flagged
    ]
    below = sum(1 for *_, large_enough, _ in rows if not large_enough)
    return SalesDropFindings(as_of, len(rows), below, flagged, stores_with_sales, float(amount))


def _verdict(rules: SalesDropRules, as_of: date) -> tuple[bool, str]:
    """(final, how it reads): final once the day's scheduled verdict time has passed."""
    due = verdict_due_at(as_of, rules.verdict_schedule, rules.timezone)
    final = datetime.now(ZoneInfo(rules.timezone)) >= due
    when = due.strftime("%Y-%m-%d %H:%M %Z")
    return final, (f"final (due {when})" if final else f"provisional: the day is judged at {when}")


#: A refresh of store_daily_sales changed its data version, the fingerprint of what this check judges
#: (judged_window.py). Evaluated by analytics_automation_sensor at its next tick: the check runs in a run of
#: its own (or after the refresh, in the same run, when that tick refreshes the table again). Refreshes that
#: only changed other days (today's batches) leave it alone; the check never rides along with a refresh.
JUDGED_WINDOW_CHANGED = dg.AutomationCondition.any_deps_match(
    dg.AutomationCondition.data_version_changed()
).with_label("the judged days or the rule changed")


@dg.asset_check(
    asset=store_daily_sales,
    name="sales_drop_check",
    blocking=False,
    automation_condition=JUDGED_WINDOW_CHANGED,
)
def sales_drop_check(
    context: dg.AssetCheckExecutionContext, etl_database: EtlDatabase, sales_drop_rules: SalesDropRules
) -> dg.AssetCheckResult:
    """Which stores' sales fell yesterday: an active store is flagged when its amount of the day is at or below
    the threshold (default -20%) against its 7-day average (days without sales count as zero). Stores with a
    small baseline, closed and test stores are never flagged; a day without any sales data fails as such.
    Runs after a refresh of store_daily_sales that changed the judged days or the rule (provisional until the
    day is due), and by daily_sales_verdict_schedule; sales_drop_slack_sensor posts final verdicts to Slack.
    """
    as_of = judged_day(context.run.tags, sales_drop_rules)
    findings = find_sales_drops(etl_database, sales_drop_rules, as_of)
    final, verdict = _verdict(sales_drop_rules, as_of)
    no_sales_data = findings.stores_with_sales == 0
    flagged = [] if no_sales_data else findings.flagged
    metadata: dict[str, object] = {
        "flagged_stores": dg.MetadataValue.table(
            [s.as_record() for s in flagged], schema=FLAGGED_STORES_SCHEMA
        ),
        "as_of_date": as_of.isoformat(),
        "amount_of_the_day": findings.amount_of_the_day,
        "stores_flagged": len(flagged),
        "stores_examined": findings.stores_examined,
        "stores_below_min_baseline": findings.below_min_baseline,
        "no_sales_data": no_sales_data,
        "verdict": verdict,
        "verdict_final": final,
        "rule": dg.MetadataValue.json(
            {
                "threshold_percent": sales_drop_rules.threshold_percent,
                "min_baseline_amount": sales_drop_rules.min_baseline_amount,
                "timezone": sales_drop_rules.timezone,
            }
        ),
    }
    if no_sales_data:
        description = f"No sales data for {as_of}: no store has any sale that day"
    elif flagged:
        description = (
            f"{len(flagged)} of {findings.stores_examined} stores fell "
            f"{abs(sales_drop_rules.threshold_percent):g}% or more on {as_of}"
        )
    else:
        description = f"No store fell sharply on {as_of} ({findings.stores_examined} examined)"
    return dg.AssetCheckResult(
        passed=not flagged and not no_sales_data,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{description} ({'final' if final else 'provisional'})",
        metadata=metadata,
    )
