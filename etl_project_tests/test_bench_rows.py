"""What `make bench`'s alternatives and latency rows rely on, checked on real PostgreSQL: the legacy approach
loads every event into its tables, and each latency drop flags exactly its own store, on a day that is due."""

import csv
import json
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg2

from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.generator.events import BatchShape
from etl_project_tests.helpers import materialize_batches, write_generated_batch
from etl_testkit.latency_batches import drop_store_name, verdict_settings, write_drop, write_history
from etl_testkit.legacy_load import legacy_load

YESTERDAY = date(2025, 4, 20)


def test_legacy_approach_puts_every_event_in_its_table_with_its_values(legacy, tmp_path):
    path = write_generated_batch(tmp_path, "legacy_bench", shape=BatchShape(sales=(300, 300)))
    with open(path, encoding="utf-8", newline="") as data:
        rows = list(csv.DictReader(data, escapechar="\\", doublequote=False))
    by_type = Counter(row["event_type"] for row in rows)
    quantities = sum(json.loads(r["payload"])["quantity"] for r in rows if r["event_type"] == "sales_event")

    conn = psycopg2.connect(legacy.url)
    _, loaded = legacy_load(conn, path, "legacy_bench")
    with conn, conn.cursor() as cur:
        cur.execute("SELECT sum(quantity) FROM etl.sales WHERE batch_id = 'legacy_bench'")
        [loaded_quantities] = cur.fetchone()
    conn.close()

    assert loaded == {
        "raw_events": len(rows),
        "stores": by_type["store_event"],
        "products": by_type["product_event"],
        "orders": by_type["order_event"],
        "sales": 300,
    }
    event_rows = sum(n for table, n in loaded.items() if table != "raw_events")
    assert (loaded["raw_events"], event_rows) == (len(rows), len(rows))  # nothing rejected
    assert loaded_quantities == quantities


def _evaluate(instance, etl_database) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [store_daily_sales, sales_drop_check],
        instance=instance,
        resources={
            "etl_database": etl_database,
            "sales_drop_rules": SalesDropRules(as_of_date=str(YESTERDAY)),
        },
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_history_flags_no_store_and_each_drop_flags_only_its_own(
    instance, resources, shared_dir, etl_database
):
    write_history(shared_dir, YESTERDAY)
    assert materialize_batches(instance, resources, ["latency_history"]).success
    assert _evaluate(instance, etl_database).passed

    write_drop(shared_dir, 1, YESTERDAY)
    write_drop(shared_dir, 2, YESTERDAY)
    assert materialize_batches(instance, resources, ["latency_drop_1", "latency_drop_2"]).success
    evaluation = _evaluate(instance, etl_database)

    assert not evaluation.passed
    flagged = [r.data for r in evaluation.metadata["flagged_stores"].records]
    assert [(s["store"], s["change_percent"]) for s in flagged] == [
        (drop_store_name(1), -90.0),
        (drop_store_name(2), -90.0),
    ]


def test_verdict_settings_make_yesterday_due_and_keep_the_daily_verdict_hours_away_at_any_hour():
    for hour in range(24):
        now = datetime(2026, 11, 30, hour, 30, tzinfo=timezone.utc)
        settings = verdict_settings(now)
        local = now.astimezone(ZoneInfo(settings["ETL_TIMEZONE"]))
        verdict_time_today = local.replace(hour=1, minute=0)  # ETL_SALES_DROP_SCHEDULE "0 1 * * *"
        assert settings["ETL_SALES_DROP_SCHEDULE"] == "0 1 * * *"
        assert verdict_time_today < local, f"{hour}:30 UTC: yesterday is not due yet in {settings}"
        assert verdict_time_today + timedelta(days=1) - local > timedelta(hours=2), (
            f"{hour}:30 UTC: {settings}"
        )
