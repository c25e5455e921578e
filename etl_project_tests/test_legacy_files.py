"""Files exactly as the legacy pipeline's generator writes them load completely, and their sales count."""

import json
import random
from datetime import date, datetime, timedelta

import dagster as dg
import pytest

from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.resources import EtlDatabase
from etl_project_tests.helpers import entity_rows, materialize_batches, write_raw_batch
from etl_testkit.legacy_files import (
    LEGACY_FORMAT,
    LegacyIds,
    legacy_events,
    legacy_run_id,
    write_legacy_file,
)

pytestmark = pytest.mark.every_postgres_major


def _processed(db, batch_id: str) -> tuple[int, int, int]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT rows_read, rows_loaded, rows_rejected FROM utilities.processed_files WHERE batch_id = %s",
            (batch_id,),
        )
        return cur.fetchone()


def test_a_month_of_legacy_runs_loads_every_row(instance, resources, shared_dir, db):
    rng = random.Random(11)
    start = datetime(2025, 4, 20, 9, 20)
    written = {"sales_event": 0, "store_event": 0}
    for run in range(6):
        now = start + timedelta(days=run, minutes=rng.randint(0, 600))
        run_id = legacy_run_id(now)
        events = legacy_events(rng, now, LegacyIds.in_database(db))
        if run == 3:  # what json.dumps does to a name with an accent and a quote: \u00e9 and \"
            events[0][1]["name"] = 'Caf\u00e9 "Chez Lou"'
        path = write_legacy_file(shared_dir, run_id, now, events)
        assert materialize_batches(instance, resources, [run_id]).success
        rows = len(events)
        assert _processed(db, run_id) == (rows, rows, 0), path.read_text()[:400]
        for event_type, _ in events:
            written[event_type] = written.get(event_type, 0) + 1

    assert written["sales_event"] > 50  # the first run has no rows to sell yet; the others do
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM etl.rejected_events")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*), count(DISTINCT date_trunc('minute', sale_date)) > 20 FROM etl.sales")
        assert cur.fetchone() == (written["sales_event"], True)  # times of day kept
        cur.execute("SELECT count(*), min(tax_id) >= 10^11 FROM etl.stores")
        assert cur.fetchone() == (written["store_event"], True)
        cur.execute("SELECT name FROM etl.stores WHERE name LIKE 'Caf%%'")
        assert cur.fetchone() == ('Caf\u00e9 "Chez Lou"',)


def test_sale_date_shapes_keep_the_time_and_count_on_their_day_in_etl_timezone(
    instance, database_url, shared_directory, shared_dir, db
):
    new_york = EtlDatabase(url=database_url, timezone="America/New_York")
    resources = {"etl_database": new_york, "shared_directory": shared_directory}
    sale = {"order_id": 3, "store_id": 1, "product_id": 2, "quantity": 1}
    shapes = [
        "2025-04-20 23:59:00",  # naive, as legacy files: New York time -> 20th
        "2025-04-21 00:01:00",  # two minutes later, the next day
        "2025-04-20",  # a bare date: midnight in New York -> 20th
        "2025-04-21T03:30:00+00:00",  # 23:30 on the 20th in New York
        "2025-04-21T05:00:00Z",  # 01:00 on the 21st in New York
        "2025-04-21T01:00:00-04:00",  # 01:00 on the 21st
    ]
    rows = entity_rows("tz", "2025-04-20 09:00:00")
    rows += [
        ("tz", "sales_event", json.dumps({**sale, "sale_date": s}), "2025-04-20 09:00:00") for s in shapes
    ]
    write_raw_batch(shared_dir, "tz", rows)
    assert materialize_batches(instance, resources, ["tz"]).success
    assert _processed(db, "tz") == (9, 9, 0)

    with db.cursor() as cur:
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute("SELECT to_char(sale_date, 'YYYY-MM-DD HH24:MI') FROM etl.sales ORDER BY raw_id")
        assert [r[0] for r in cur.fetchall()] == [
            "2025-04-21 03:59",
            "2025-04-21 04:01",
            "2025-04-20 04:00",
            "2025-04-21 03:30",
            "2025-04-21 05:00",
            "2025-04-21 05:00",
        ]
    assert dg.materialize(
        [store_daily_sales],
        instance=instance,
        resources={"etl_database": new_york, "sales_drop_rules": SalesDropRules()},
    ).success
    with db.cursor() as cur:
        cur.execute("SELECT sale_date, sales_lines FROM etl.store_daily_sales ORDER BY sale_date")
        assert cur.fetchall() == [(date(2025, 4, 20), 3), (date(2025, 4, 21), 3)]


VALUE_CASES = {
    # field: (value, rejection reason or None when it loads)
    "leap day": ("sale_date", "2024-02-29 10:00:00", None),
    "microseconds and T": ("sale_date", "2025-04-20T10:00:00.123456", None),
    "minutes only with offset": ("sale_date", "2025-04-20 10:00+0530", None),
    "no leap day": ("sale_date", "2023-02-29 10:00:00", "wrong type: sale_date"),
    "31st of April": ("sale_date", "2025-04-31", "wrong type: sale_date"),
    "month 13": ("sale_date", "2025-13-01 10:00:00", "wrong type: sale_date"),
    "hour 24": ("sale_date", "2025-04-20 24:00:00", "wrong type: sale_date"),
    "second 60": ("sale_date", "2025-04-20 10:00:60", "wrong type: sale_date"),
    "offset beyond 15 hours": ("sale_date", "2025-04-20T10:00:00+16:00", "wrong type: sale_date"),
    "year 0": ("sale_date", "0000-01-01", "wrong type: sale_date"),
    "day first": ("sale_date", "20-04-2025", "wrong type: sale_date"),
    "a number": ("sale_date", 20250420, "wrong type: sale_date"),
    "quantity as float": ("quantity", 2.0, "wrong type: quantity"),
    "quantity as string": ("quantity", "2", "wrong type: quantity"),
    "id beyond bigint": ("store_id", 2**63, "wrong type: store_id"),
    "largest bigint": ("store_id", 2**63 - 1, "unknown store_id"),
    "JSON null": ("quantity", None, "missing field: quantity"),
    "JSON null date": ("sale_date", None, "missing field: sale_date"),
}


def test_timestamps_and_numbers_load_or_are_rejected_precisely(database_url, shared_dir, db):
    from etl_project.loading import load_batch

    sale = {"sale_date": "2025-04-20 10:00:00", "order_id": 3, "store_id": 1, "product_id": 2, "quantity": 1}
    cases = sorted(VALUE_CASES)
    rows = entity_rows("v", "2025-04-20 09:00:00")
    rows[1] = (
        "v",
        "product_event",
        json.dumps({"id": 2, "created_at": "2025-04-20", "name": "P", "price": 12.5}),
        rows[1][3],
    )
    for case in cases:
        name, value, _ = VALUE_CASES[case]
        rows.append(("v", "sales_event", json.dumps({**sale, name: value}), "2025-04-20 09:00:00"))
    path = write_raw_batch(shared_dir, "v", rows)
    import psycopg2

    conn = psycopg2.connect(database_url)
    load_batch(conn, "v", path)
    conn.close()
    with db.cursor() as cur:
        cur.execute("SELECT file_row, rejection_reason FROM etl.rejected_events ORDER BY file_row")
        reasons = dict(cur.fetchall())
        cur.execute("SELECT price FROM etl.products")
        assert [float(p) for p in cur.fetchall()[0]] == [12.5]
    for row, case in enumerate(cases, start=4):  # rows 1-3 are the entities
        expected = VALUE_CASES[case][2]
        if expected is None:
            assert row not in reasons, (case, reasons.get(row))
        else:
            assert reasons.get(row, "").startswith(expected), (case, reasons.get(row))


def test_sales_drop_check_sees_legacy_sales(instance, resources, etl_database, shared_dir):
    as_of = date(2025, 4, 20)
    first = datetime(2025, 4, 12, 6)
    setup = [(t, p) for t, p in legacy_events(random.Random(3), first, LegacyIds()) if t != "order_event"]
    setup.append(("order_event", {"created_at": first.strftime(LEGACY_FORMAT), "user_id": 1}))
    run_ids = [legacy_run_id(first)]
    write_legacy_file(shared_dir, run_ids[0], first, setup)  # stores 1-2, products 1-2, order 1
    for day in range(8, -1, -1):
        moment = datetime.combine(as_of - timedelta(days=day), datetime.min.time()) + timedelta(hours=23)
        items = {1: 10, 2: 2 if day == 0 else 10}  # store 2 sells a fifth on the as-of day
        sales = [
            (
                "sales_event",
                {
                    "sale_date": (moment - timedelta(minutes=m)).strftime(LEGACY_FORMAT),
                    "order_id": 1,
                    "store_id": store,
                    "product_id": 1,
                    "quantity": n,
                },
            )
            for m, (store, n) in enumerate(items.items())
        ]
        run_ids.append(legacy_run_id(moment))
        write_legacy_file(shared_dir, run_ids[-1], moment, sales)
    for run_id in run_ids:
        assert materialize_batches(instance, resources, [run_id]).success

    result = dg.materialize(
        [store_daily_sales, sales_drop_check],
        instance=instance,
        resources={
            "etl_database": etl_database,
            "sales_drop_rules": SalesDropRules(as_of_date=as_of.isoformat(), min_baseline_amount=1),
        },
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert [
        (r.data["id"], r.data["change_percent"]) for r in evaluation.metadata["flagged_stores"].records
    ] == [(2, -80.0)]
