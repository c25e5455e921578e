"""No batch waits for the next one (issue 21.4): a load that finishes while a refresh of store_daily_sales is
running, after that refresh's snapshot, reaches the table at the next analytics tick, not with the next batch.

Before the fix, store_daily_sales was refreshed by an automation condition inherited from `eager()`: "a dep was
updated since the asset was last handled". The refresh that missed the load (its snapshot predates the load's
commit) ends after the load's materialisation, so at the next tick the refresh's own materialisation reset
the condition and cancelled the load's trigger. Now the refresh follows what is pending in the change log.
"""

import threading
import time
from datetime import datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.generator.events import Event, write_batch_file
from etl_project_tests.analytics_sensors import AnalyticsSensors
from etl_project_tests.helpers import materialize_batches
from etl_testkit.sales_history import AS_OF, history_events

pytestmark = pytest.mark.every_postgres_major

RULES = SalesDropRules(as_of_date=AS_OF.isoformat(), threshold_percent=-20, min_baseline_amount=50)
TODAY = AS_OF + timedelta(days=1)


def _sales_of_today(shared_dir, instance, resources, batch_id: str, quantity: int) -> None:
    """Load a batch with one sale of store 2 today (outside the judged days; the product costs 10.00)."""
    sale = {
        "sale_date": TODAY.isoformat(),
        "order_id": 1,
        "store_id": 2,
        "product_id": 1,
        "quantity": quantity,
    }
    write_batch_file(shared_dir, batch_id, datetime(2025, 4, 21, 7), [Event("sales_event", sale)])
    assert materialize_batches(instance, resources, [batch_id]).success


def _wait_until_blocked(db: psycopg2.extensions.connection, refresh: threading.Thread) -> None:
    """Until the refresh waits for the locked change-log rows (PostgreSQL says so; no timing)."""
    with db.cursor() as cur:
        while refresh.is_alive():
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cur.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the refresh ended without waiting for the change-log rows")


def _today_amount(db: psycopg2.extensions.connection) -> float:
    with db.cursor() as cur:
        cur.execute(
            "SELECT coalesce(sum(amount), 0) FROM etl.store_daily_sales WHERE sale_date = %s AND store_id = 2",
            (TODAY,),
        )
        return float(cur.fetchone()[0])


def _pending_changes(db: psycopg2.extensions.connection) -> int:
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM etl.store_daily_sales_changes")
        return cur.fetchone()[0]


def test_a_load_finishing_during_a_refresh_is_refreshed_without_waiting_for_the_next_batch(
    instance, resources, shared_dir, database_url, db
):
    sensors = AnalyticsSensors(instance, {**resources, "sales_drop_rules": RULES})
    sensors.tick()
    write_batch_file(shared_dir, "history", datetime(2025, 4, 21, 6), history_events())
    assert materialize_batches(instance, resources, ["history"]).success
    sensors.settle()
    assert _pending_changes(db) == 0

    # A load (b1) lands; a refresh starts, takes its snapshot and waits (a session holds the change-log rows);
    # meanwhile a second load (b2) commits; then the refresh ends: it consumed b1 only, and its
    # materialisation is recorded after both loads', between two ticks of the analytics sensors.
    _sales_of_today(shared_dir, instance, resources, "b1", quantity=2)
    blocker = psycopg2.connect(database_url)
    results = []
    try:
        with blocker.cursor() as cur:
            cur.execute("SELECT FROM etl.store_daily_sales_changes FOR UPDATE")
        refresh = threading.Thread(
            target=lambda: results.append(
                dg.materialize([store_daily_sales], instance=instance, resources=sensors.resources)
            )
        )
        refresh.start()
        _wait_until_blocked(db, refresh)
        _sales_of_today(shared_dir, instance, resources, "b2", quantity=5)
        blocker.rollback()
        refresh.join()
    finally:
        blocker.close()
    assert [r.success for r in results] == [True]
    assert _today_amount(db) == 20.0 and _pending_changes(db) == 1  # b2 missed by that refresh

    # No third batch arrives: the next ticks alone bring b2 into the table.
    sensors.tick_and_launch()
    sensors.settle()
    assert _pending_changes(db) == 0
    assert _today_amount(db) == 70.0


def test_the_sensor_leaves_pending_changes_to_a_run_that_will_refresh_for_a_grace_period(
    instance, resources, shared_dir, monkeypatch
):
    """While a run that refreshes after its own work (the daily verdict) is queued or running, the pending sensor
    leaves what is pending to it, for at most GRACE_SECONDS; a refresh run queued or running, always."""
    from dagster._core.test_utils import create_run_for_test

    from etl_project.defs.sales_analytics import pending_refresh
    from etl_project.defs.sales_analytics.schedules import daily_sales_verdict_job

    sensors = AnalyticsSensors(instance, {**resources, "sales_drop_rules": RULES})
    _sales_of_today(shared_dir, instance, resources, "b1", quantity=2)  # pending
    verdict = create_run_for_test(
        instance,
        job_name=daily_sales_verdict_job.name,
        status=dg.DagsterRunStatus.STARTED,
        tags=daily_sales_verdict_job.tags,
    )
    assert sensors.tick() == []
    now = time.time()
    monkeypatch.setattr(pending_refresh.time, "time", lambda: now + pending_refresh.GRACE_SECONDS + 1)
    [(job_name, _)] = sensors.tick()
    assert job_name == pending_refresh.refresh_store_daily_sales_job.name
    instance.report_run_canceled(verdict)
    create_run_for_test(
        instance,
        job_name=pending_refresh.refresh_store_daily_sales_job.name,
        status=dg.DagsterRunStatus.STARTED,
        tags=pending_refresh.REFRESHES_TAG,
    )
    assert sensors.tick() == []
