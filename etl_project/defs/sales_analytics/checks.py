"""`sales_drop_check`: warns when an active store's sales fell sharply against its own recent average, or when
a whole day has no sales data at all. The rule and the verdict are `etl_project.sales_drop`'s."""

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.defs.sales_analytics.verdict import verdict_due_at
from etl_project.resources import EtlDatabase
from etl_project.sales_drop.findings import StoreSalesDrop, find_sales_drops, judge
from etl_project.sales_drop.rule import judged_day

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


def _record(store: StoreSalesDrop) -> dg.TableRecord:
    return dg.TableRecord(
        {
            "store": store.store_name,
            "id": store.store_id,
            "amount_of_the_day": store.as_of_amount,
            "seven_day_average": store.baseline_amount,
            "change_percent": store.percent_change,
        }
    )


def _finality(rules: SalesDropRules, as_of: date) -> tuple[bool, str]:
    """(final, how it reads): final once the day's scheduled verdict time has passed."""
    due = verdict_due_at(as_of, rules.verdict_schedule, rules.timezone)
    final = datetime.now(ZoneInfo(rules.timezone)) >= due
    when = due.strftime("%Y-%m-%d %H:%M %Z")
    return final, (f"final (due {when})" if final else f"provisional: the day is judged at {when}")


#: A refresh of store_daily_sales changed its data version, the fingerprint of what this check judges
#: (etl_project/sales_drop/judged_window.py). Evaluated by analytics_automation_sensor at its next tick: the
#: check runs in a run of its own (or after the refresh, in the same run, when that tick refreshes the table
#: again). Refreshes that only changed other days (today's batches) leave it alone; the check never rides along
#: with a refresh.
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
    with etl_database.connect() as conn:
        findings = find_sales_drops(conn, sales_drop_rules, as_of)
    final, finality = _finality(sales_drop_rules, as_of)
    verdict = judge(findings, sales_drop_rules, final)
    metadata: dict[str, Any] = {
        "flagged_stores": dg.MetadataValue.table(
            [_record(s) for s in verdict.flagged], schema=FLAGGED_STORES_SCHEMA
        ),
        "as_of_date": as_of.isoformat(),
        "amount_of_the_day": findings.amount_of_the_day,
        "stores_flagged": len(verdict.flagged),
        "stores_examined": findings.stores_examined,
        "stores_below_min_baseline": findings.below_min_baseline,
        "no_sales_data": verdict.no_sales_data,
        "seven_day_average_total": findings.baseline_amount,
        "verdict": finality,
        "verdict_final": final,
        "rule": dg.MetadataValue.json(
            {
                "threshold_percent": sales_drop_rules.threshold_percent,
                "min_baseline_amount": sales_drop_rules.min_baseline_amount,
                "timezone": sales_drop_rules.timezone,
            }
        ),
    }
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=verdict.description,
        metadata=metadata,
    )
