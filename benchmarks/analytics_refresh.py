"""Scenario `analytics`: store_daily_sales refreshed after one 10k-event batch on a history of 20M sales, the full
rebuild beside it, the sales-drop evaluation for 10k stores on that history, and `references_valid` on it: the
daily look at every sale's references, and the look after each load at what it touched.

The history is written by PostgreSQL itself (`generate_series`: 10k active stores, 200k products, sales spread
over the 365 days before today), never as CSV through Python; then one full rebuild (measured) counts it. Each
10k-event batch is made by the project's generator (its sales on today, by the history's stores and products)
and loaded by `load_batch`; the incremental refresh after it is measured, --repeat batches, median counted.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg2
import psycopg2.extensions
from faker import Faker
from psycopg2 import sql

from benchmarks.report import Target, format_table
from benchmarks.support import BenchServer, log
from etl_project.analytics import refresh_store_daily_sales
from etl_project.generator.events import BatchShape, Catalog, SequentialIds, generate_events, write_batch_file
from etl_project.loading import (
    DanglingReferences,
    dangling_references_after_load,
    dangling_references_everywhere,
    load_batch,
)
from etl_project.resources.postgres import session_options
from etl_project.sales_drop.sql import sales_drop_query

STORES = 10_000
PRODUCTS = 200_000
#: Orders the history's sales reference (the integrity check hashes them all).
ORDERS = 1_000_000
HISTORY_DAYS = 365
BATCH_EVENTS = 10_000
MAX_REFRESH_S = 0.5
MIN_SPEEDUP_VS_REBUILD = 50.0
MAX_CHECK_S = 0.5
#: references_valid: after each load (on the path of every batch) and daily (once a day, on every sale).
MAX_INTEGRITY_AFTER_LOAD_S = 0.5
MAX_INTEGRITY_DAILY_S = 60.0

#: The history, in statements PostgreSQL runs itself (%(sales)s sales; ids below any a load gives).
_HISTORY = [
    "SET LOCAL synchronous_commit = off",
    "INSERT INTO etl.stores (raw_id, batch_id, batch_created_at, id, created_at, name, tax_id, status) "
    "SELECT g, 'history', now(), g, now(), 'Store ' || g, 10000000 + g, 'active' "
    "FROM generate_series(1, %(stores)s) g",
    "INSERT INTO etl.products (raw_id, batch_id, batch_created_at, id, created_at, name, price) "
    "SELECT g, 'history', now(), g, now(), 'Product ' || g, (99 + g * 7919 %% 19900) / 100.0 "
    "FROM generate_series(1, %(products)s) g",
    "INSERT INTO etl.orders (raw_id, batch_id, batch_created_at, id, created_at, user_id) "
    "SELECT g, 'history', now(), g, now(), 1 + g %% 10000 FROM generate_series(1, %(orders)s) g",
    "INSERT INTO etl.sales (raw_id, batch_id, batch_created_at, id, order_id, store_id, product_id, quantity, "
    "sale_date) SELECT g, 'history', now(), g, 1 + g %% %(orders)s, 1 + g %% %(stores)s, 1 + (g * 104729) %% %(products)s, "
    "1 + g %% 5, current_date - 1 - (g / %(stores)s %% %(days)s)::int + (g %% 86400) * interval '1 second' "
    "FROM generate_series(1, %(sales)s::bigint) g",
    *(
        sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))").format(
            sql.Literal(f"etl.{table}"), sql.Identifier("etl", table)
        )
        for table in ("stores", "products", "orders", "sales")
    ),
]


#: The rebuild store_daily_sales had before it was incremental (the issue's 24.9 s on 20M sales): measured in a
#: transaction that is rolled back, as the reference of the refresh's speedup.
_REBUILD_BEFORE = """
DELETE FROM etl.store_daily_sales;
INSERT INTO etl.store_daily_sales (store_id, sale_date, amount, items, sales_lines)
SELECT s.store_id, (s.sale_date AT TIME ZONE current_setting('TimeZone'))::date,
       sum(s.quantity * p.price), sum(s.quantity), count(*)
FROM etl.sales s JOIN etl.products p ON p.id = s.product_id
GROUP BY 1, 2;
"""


@dataclass
class AnalyticsResult:
    history_sales: int
    store_days: int
    generation_s: float
    rebuild_before_s: float
    rebuild_s: float
    refresh_s: float
    refreshes: list[dict[str, object]]
    check_s: float
    check_stores_examined: int
    integrity_after_load_s: float
    integrity_daily_s: float
    scenario_s: float
    targets: list[Target] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        result = asdict(self)
        result["targets"] = [t.as_dict() for t in self.targets]
        return result

    def render(self) -> str:
        rows = [
            [
                "rebuild as before: one GROUP BY of all sales into the table",
                f"{self.rebuild_before_s:.2f}",
                "-",
            ],
            [
                "full rebuild now: quantities per store, day and product, then the table",
                f"{self.rebuild_s:.2f}",
                "-",
            ],
            [
                f"incremental refresh after one {BATCH_EVENTS:,}-event batch (median of {len(self.refreshes)})",
                f"{self.refresh_s:.3f}",
                f"{self.rebuild_before_s / self.refresh_s:,.0f}x faster",
            ],
            [
                f"sales_drop_check query, {self.check_stores_examined:,} stores examined",
                f"{self.check_s:.3f}",
                "-",
            ],
            [
                f"references_valid after a {BATCH_EVENTS:,}-event load (median)",
                f"{self.integrity_after_load_s:.3f}",
                "-",
            ],
            ["references_valid daily, every sale", f"{self.integrity_daily_s:.2f}", "-"],
        ]
        head = (
            f"store_daily_sales on {self.history_sales:,} sales ({self.store_days:,} store-days, {STORES:,} "
            f"stores, {PRODUCTS:,} products); history generated in {self.generation_s:.1f} s, scenario "
            f"{self.scenario_s:.0f} s in all"
        )
        touched = ", ".join(f"{r['store_days']} store-days in {r['wall_s']:.3f} s" for r in self.refreshes)
        return "\n".join(
            [head, format_table(["step", "wall s", "vs rebuild"], rows), f"refreshes: {touched}"]
        )


def run_analytics_scenario(server: BenchServer, *, history_sales: int, repeat: int) -> AnalyticsResult:
    started = time.perf_counter()
    url = server.fresh_database("etl_bench_analytics")
    conn = psycopg2.connect(url, options=session_options("UTC"))
    try:
        generation_s = _timed(lambda: _write_history(conn, history_sales))
        log(f"analytics: {history_sales:,} sales of history written in {generation_s:.1f} s; full rebuild")
        rebuild_s = _timed(lambda: refresh_store_daily_sales(conn, full=True))
        rebuild_before_s = _timed(lambda: _rebuild_as_before(conn))
        refreshes, after_load = [], []
        with tempfile.TemporaryDirectory(prefix="etl_bench_analytics_") as directory:
            for number in range(repeat):
                batch_id = f"bench_analytics_{number}"
                report = load_batch(conn, batch_id, _batch_file(Path(directory), batch_id, seed=number))
                moment = time.perf_counter()
                _no_dangling(
                    dangling_references_after_load(conn, batch_id, report.raw_id_base, report.removed_ids)
                )
                after_load.append(time.perf_counter() - moment)
                moment = time.perf_counter()
                report = refresh_store_daily_sales(conn)
                refreshes.append(
                    {
                        "wall_s": time.perf_counter() - moment,
                        "store_days": report.store_days,
                        "kind": report.kind,
                    }
                )
        integrity_daily_s = _timed(lambda: _no_dangling(dangling_references_everywhere(conn)))
        check_times, examined = [], 0
        for _ in range(3):
            moment = time.perf_counter()
            examined = _evaluate_sales_drop(conn)
            check_times.append(time.perf_counter() - moment)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM etl.store_daily_sales")
            store_days = cur.fetchone()[0]
    finally:
        conn.close()
        server.drop_created()
    refresh_s = statistics.median(r["wall_s"] for r in refreshes)
    check_s = statistics.median(check_times)
    integrity_after_load_s = statistics.median(after_load)
    result = AnalyticsResult(
        history_sales, store_days, generation_s, rebuild_before_s, rebuild_s, refresh_s, refreshes, check_s, examined,
        integrity_after_load_s, integrity_daily_s, time.perf_counter() - started,
    )  # fmt: skip
    result.targets = [
        Target(f"store_daily_sales refresh after a {BATCH_EVENTS:,}-event batch", refresh_s, MAX_REFRESH_S, "<=", " s"),
        Target("refresh speedup vs the rebuild before", rebuild_before_s / refresh_s, MIN_SPEEDUP_VS_REBUILD, ">=", "x"),
        Target(f"sales_drop_check query for {STORES:,} stores", check_s, MAX_CHECK_S, "<=", " s"),
        Target("references_valid after a load", integrity_after_load_s, MAX_INTEGRITY_AFTER_LOAD_S, "<=", " s"),
        Target(f"references_valid daily on {history_sales:,} sales", integrity_daily_s, MAX_INTEGRITY_DAILY_S, "<=", " s"),
    ]  # fmt: skip
    return result


def _timed(step) -> float:  # noqa: ANN001 - any callable
    moment = time.perf_counter()
    step()
    return time.perf_counter() - moment


def _no_dangling(found: DanglingReferences) -> None:
    if found.total:
        raise AssertionError(f"references_valid fails on the benchmark's own data: {found.summary()}")


def _rebuild_as_before(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        cur.execute(_REBUILD_BEFORE)
    conn.rollback()


def _write_history(conn: psycopg2.extensions.connection, sales: int) -> None:
    params = {"stores": STORES, "products": PRODUCTS, "orders": ORDERS, "days": HISTORY_DAYS, "sales": sales}
    with conn, conn.cursor() as cur:
        for statement in _HISTORY:
            cur.execute(statement, params)
    # As autovacuum would have left a history built over months: BRIN ranges summarized, visibility map set.
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) etl.stores, etl.products, etl.orders, etl.sales")
    finally:
        conn.autocommit = False


def _batch_file(directory: Path, batch_id: str, seed: int) -> Path:
    """A generated 10k-event batch (the proportions of `etl generate --events`): new entities, and sales today
    by the history's stores and products (and the batch's own)."""
    entities = BATCH_EVENTS // 5
    shape = BatchShape(
        stores=entities // 20,
        products=entities // 10,
        orders=entities - entities // 20 - entities // 10,
        sales=(BATCH_EVENTS - entities, BATCH_EVENTS - entities),
    )
    catalog = Catalog(
        active_store_ids=list(range(1, STORES + 1)),
        product_prices={pid: Decimal(99 + pid * 7919 % 19900) / 100 for pid in range(1, PRODUCTS + 1)},
    )
    ids = SequentialIds({"stores": STORES + 1 + seed * 1000, "products": PRODUCTS + 1 + seed * 1000,
                         "orders": 2 + seed * 10_000})  # fmt: skip
    fake = Faker()
    fake.seed_instance(seed)
    created_at = datetime.combine(date.today(), datetime.min.time()) + timedelta(hours=12)
    events = generate_events(
        fake=fake, rng=random.Random(seed), ids=ids, catalog=catalog, created_at=created_at, shape=shape
    )
    return write_batch_file(directory, batch_id, created_at, events)


def _evaluate_sales_drop(conn: psycopg2.extensions.connection) -> int:
    """The check's own SQL for yesterday, with its default rules; stores examined."""
    with conn, conn.cursor() as cur:
        cur.execute(
            sales_drop_query("sales_drop"),
            {
                "as_of_date": date.today() - timedelta(days=1),
                "threshold_percent": -20,
                "min_baseline_amount": 100,
            },
        )
        return len(cur.fetchall())
