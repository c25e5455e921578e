"""Incremental store_daily_sales: after any sequence of loads, reloads of the same batch, replays of late sales
and price changes, the incrementally refreshed table equals one computed from scratch; and a refresh that runs
while a load commits neither misses nor double-counts it."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg2
import psycopg2.extensions
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from etl_project import cli
from etl_project.analytics import refresh_store_daily_sales
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.loading import ReloadRefusedError, batches_to_replay, load_batch, replay_batch
from etl_project_tests.helpers import write_raw_batch

pytestmark = pytest.mark.every_postgres_major

CREATED = "2025-04-20 09:20:00"
#: Product batches and the product ids each may hold (a reload may drop a product or change its price).
PRODUCT_BATCHES = {"products_a": (1, 2), "products_b": (3, 4)}
SALES_BATCHES = ("sales_a", "sales_b", "sales_c")

#: What store_daily_sales must hold: the definition itself, computed from all of etl.sales.
FROM_SCRATCH = """
SELECT s.store_id, (s.sale_date AT TIME ZONE current_setting('TimeZone'))::date,
       sum(s.quantity * p.price), sum(s.quantity), count(*)
FROM etl.sales s JOIN etl.products p ON p.id = s.product_id
GROUP BY 1, 2 ORDER BY 1, 2
"""
MAINTAINED = "SELECT store_id, sale_date, amount, items, sales_lines FROM etl.store_daily_sales ORDER BY 1, 2"
EVERYTHING = (
    "etl.raw_events, etl.stores, etl.products, etl.orders, etl.sales, etl.rejected_events, "
    "utilities.processed_files, etl.store_daily_sales, etl.store_daily_product_sales, "
    "etl.store_daily_sales_changes"
)


def _rows(batch_id: str, events: list[tuple[str, dict]]) -> list[tuple[str, str, str, str]]:
    return [(batch_id, event_type, json.dumps(payload), CREATED) for event_type, payload in events]


def _entities() -> list[tuple[str, dict]]:
    stores = [
        ("store_event", {"id": i, "created_at": CREATED, "name": f"S{i}", "tax_id": i, "status": "active"})
        for i in (1, 2)
    ]
    return [*stores, ("order_event", {"id": 1, "created_at": CREATED, "user_id": 1})]


def _products(batch_id: str, prices: list[Decimal | None]) -> list[tuple[str, dict]]:
    return [
        ("product_event", {"id": pid, "created_at": CREATED, "name": f"P{pid}", "price": str(price)})
        for pid, price in zip(PRODUCT_BATCHES[batch_id], prices, strict=True)
        if price is not None
    ]


def _sales(sales: list[tuple[int, int, int, str]]) -> list[tuple[str, dict]]:
    return [
        (
            "sales_event",
            {"sale_date": day, "order_id": 1, "store_id": store, "product_id": product, "quantity": quantity},
        )
        for store, product, quantity, day in sales
    ]


_price = st.sampled_from([Decimal("1.50"), Decimal("2"), Decimal("7.25")])
_sale = st.tuples(
    st.integers(1, 2),
    st.integers(1, 5),  # product 5 never exists: its sales wait for a replay forever
    st.integers(1, 3),
    st.sampled_from(["2025-04-20 00:30", "2025-04-20 23:30", "2025-04-21 12:00"]),
)
_operation = st.one_of(
    st.tuples(
        st.just("products"),
        st.sampled_from(sorted(PRODUCT_BATCHES)),
        st.lists(st.none() | _price, min_size=2, max_size=2),
    ),
    st.tuples(st.just("sales"), st.sampled_from(SALES_BATCHES), st.lists(_sale, max_size=4)),
    st.tuples(st.just("replay")),
    st.tuples(st.just("refresh")),
)


class _Platform:
    """The loader, the replay and the refresh on one database, with batch files in `directory`."""

    def __init__(self, conn: psycopg2.extensions.connection, directory: Path):
        self.conn = conn
        self.directory = directory

    def load(self, batch_id: str, events: list[tuple[str, dict]]) -> None:
        """Load a version of the batch; one that would remove a product other batches' sales reference is
        refused (issue 20) and changes nothing, which the refresh must then see too."""
        try:
            load_batch(
                self.conn, batch_id, write_raw_batch(self.directory, batch_id, _rows(batch_id, events))
            )
        except ReloadRefusedError as refused:
            assert "which this version no longer has" in str(refused)

    def apply(self, operation: tuple) -> None:
        match operation:
            case ("products", batch_id, prices):
                self.load(batch_id, _products(batch_id, prices))
            case ("sales", batch_id, sales):
                self.load(batch_id, _sales(sales))
            case ("replay",):
                for batch_id in batches_to_replay(self.conn):
                    replay_batch(self.conn, batch_id)
            case ("refresh",):
                self.assert_refresh_equals_from_scratch()

    def query(self, statement: str) -> list[tuple]:
        with self.conn, self.conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()

    def assert_refresh_equals_from_scratch(self) -> None:
        report = refresh_store_daily_sales(self.conn)
        assert report.kind == "incremental"
        assert self.query(MAINTAINED) == self.query(FROM_SCRATCH)
        assert self.query("SELECT count(*) FROM etl.store_daily_sales_changes") == [(0,)]


@pytest.fixture
def platform(etl_database, tmp_path) -> _Platform:
    with etl_database.connect() as conn:
        refresh_store_daily_sales(conn)  # the rebuild the migration asks for
        yield _Platform(conn, tmp_path)


#: Cases a few random sequences may miss: a product dropped by a reload (its sales leave the table), and the
#: same product back later in another version of its batch (its sales come back, at the new price).
_PRODUCT_DROPPED = [
    ("products", "products_a", [Decimal("2"), Decimal("3")]),
    ("sales", "sales_a", [(1, 1, 2, "2025-04-20 10:00"), (2, 2, 1, "2025-04-21 10:00")]),
    ("refresh",),
    ("products", "products_a", [None, Decimal("3")]),
]
_PRODUCT_BACK = [*_PRODUCT_DROPPED, ("refresh",), ("products", "products_a", [Decimal("7.25"), None])]
_SALE_BEFORE_ITS_PRODUCT = [
    ("sales", "sales_b", [(1, 3, 2, "2025-04-20 10:00")]),
    ("refresh",),
    ("products", "products_b", [Decimal("2"), None]),
    ("replay",),
    ("sales", "sales_b", [(1, 3, 1, "2025-04-20 10:00")]),
]
#: Found by Hypothesis: a sale waiting for its product, replayed once the product arrives, then its batch reloaded
#: without it: the day's row must go, not stay at zero.
_REPLAYED_SALE_REMOVED = [
    ("sales", "sales_b", [(1, 2, 1, "2025-04-20 00:30")]),
    ("refresh",),
    ("products", "products_a", [None, Decimal("1.50")]),
    ("replay",),
    ("sales", "sales_b", []),
]


@example(operations=_REPLAYED_SALE_REMOVED)
@example(operations=_PRODUCT_DROPPED)
@example(operations=_PRODUCT_BACK)
@example(operations=_SALE_BEFORE_ITS_PRODUCT)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(_operation, min_size=1, max_size=8))
def test_incremental_refresh_equals_a_rebuild_after_any_changes(platform: _Platform, operations: list[tuple]):
    platform.query(f"TRUNCATE {EVERYTHING}; SELECT 1")  # noqa: S608 - table names from this module
    platform.load("entities", _entities())
    for operation in operations:
        platform.apply(operation)
    platform.assert_refresh_equals_from_scratch()


def test_full_rebuild_is_the_same_table_and_says_so(platform: _Platform):
    platform.load("entities", _entities())
    platform.load("products_a", _products("products_a", [Decimal("2"), Decimal("3")]))
    platform.load("sales_a", _sales([(1, 1, 2, "2025-04-20 10:00"), (2, 2, 1, "2025-04-21 10:00")]))
    report = refresh_store_daily_sales(platform.conn, full=True)
    assert (report.kind, report.store_days) == ("full", 2)
    assert platform.query(MAINTAINED) == platform.query(FROM_SCRATCH) != []
    platform.load("sales_b", _sales([(1, 2, 5, "2025-04-22 10:00")]))
    report = refresh_store_daily_sales(platform.conn)
    assert (report.kind, report.store_days, report.changes_consumed) == ("incremental", 1, 1)
    assert platform.query(MAINTAINED) == platform.query(FROM_SCRATCH)


def _wait_until_blocked(conn: psycopg2.extensions.connection, refresh: threading.Thread) -> None:
    """Until the refresh under test waits for a lock (PostgreSQL says so; no timing), or has ended."""
    with conn.cursor() as cur:
        while refresh.is_alive():
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'refresh_under_test' AND wait_event_type = 'Lock'"
            )
            if cur.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the refresh ended without waiting for the change-log row")


@pytest.mark.parametrize("change", ["new batch", "reload of the batch being refreshed"])
def test_a_load_committing_during_a_refresh_is_counted_once(platform: _Platform, database_url: str, change):
    """The refresh takes its snapshot, then waits (a third session holds a row of the change log it consumes)
    while a load commits: the next refresh must bring the table to exactly what the sales say."""
    platform.load("entities", _entities())
    platform.load("products_a", _products("products_a", [Decimal("2"), Decimal("3")]))
    platform.assert_refresh_equals_from_scratch()
    platform.load("sales_a", _sales([(1, 1, 2, "2025-04-20 10:00")]))  # the change the refresh consumes

    blocker = psycopg2.connect(database_url)
    refresher = psycopg2.connect(database_url, application_name="refresh_under_test")
    reports = []
    try:
        with blocker.cursor() as cur:
            cur.execute("SELECT FROM etl.store_daily_sales_changes FOR UPDATE")
        refresh = threading.Thread(target=lambda: reports.append(refresh_store_daily_sales(refresher)))
        refresh.start()
        _wait_until_blocked(platform.conn, refresh)
        if change == "new batch":
            platform.load("sales_b", _sales([(1, 2, 4, "2025-04-20 11:00"), (2, 1, 1, "2025-04-21 11:00")]))
        else:
            platform.load("sales_a", _sales([(2, 2, 7, "2025-04-21 10:00")]))
        blocker.rollback()
        refresh.join()
    finally:
        blocker.close()
        refresher.close()

    assert [r.changes_consumed for r in reports] == [
        1
    ]  # its snapshot predates the load: only sales_a's first
    assert platform.query("SELECT count(*) FROM etl.store_daily_sales_changes") != [(0,)]
    platform.assert_refresh_equals_from_scratch()


def _refresh_metadata(result: dg.ExecuteInProcessResult) -> tuple[str, int]:
    metadata = result.asset_materializations_for_node("store_daily_sales")[0].metadata
    return metadata["refresh_kind"].value, metadata["store_days_refreshed"].value


def test_the_materialisation_says_which_kind_ran_and_the_cli_rebuilds(
    platform: _Platform, instance, etl_database, database_url, monkeypatch, capsys
):
    platform.load("entities", _entities())
    platform.load("products_a", _products("products_a", [Decimal("2"), Decimal("3")]))
    platform.load("sales_a", _sales([(1, 1, 2, "2025-04-20 10:00"), (2, 2, 1, "2025-04-21 10:00")]))
    resources = {"etl_database": etl_database, "sales_drop_rules": SalesDropRules()}
    full = dg.materialize(
        [store_daily_sales],
        instance=instance,
        resources=resources,
        run_config={"ops": {"store_daily_sales": {"config": {"full_rebuild": True}}}},
    )
    assert _refresh_metadata(full) == ("full", 2)
    platform.load("sales_b", _sales([(1, 2, 5, "2025-04-22 10:00")]))
    incremental = dg.materialize([store_daily_sales], instance=instance, resources=resources)
    assert _refresh_metadata(incremental) == ("incremental", 1)

    monkeypatch.setenv("ETL_DATABASE_URL", database_url)
    assert cli.main(["rebuild-analytics"]) == 0
    assert "Rebuilt etl.store_daily_sales: 3 store-days, 2025-04-20 to 2025-04-22." in capsys.readouterr().out
    assert platform.query(MAINTAINED) == platform.query(FROM_SCRATCH)
