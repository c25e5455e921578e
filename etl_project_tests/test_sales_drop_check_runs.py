"""When sales_drop_check is evaluated (issue 16): after a refresh of store_daily_sales that changed what it
judges (the as-of day and the 7 days before it, or the rule), and by the daily verdict, not after every refresh.

The analytics sensors (the check's automation condition, the refresh of what the change log holds) are evaluated
as the daemon evaluates them, tick by tick, on the real instance; the runs they request are executed as the
sensors would launch them.
"""

from datetime import datetime, timedelta

import dagster as dg
import pytest

from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.pending_refresh import refresh_store_daily_sales_job
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.defs.sales_analytics.sensors import SALES_DROP_CHECK_KEY
from etl_project.generator.events import Event, write_batch_file
from etl_project_tests.analytics_sensors import AnalyticsSensors
from etl_project_tests.helpers import materialize_batches
from etl_testkit.sales_history import AS_OF, history_events

pytestmark = pytest.mark.every_postgres_major

RULES = SalesDropRules(as_of_date=AS_OF.isoformat(), threshold_percent=-20, min_baseline_amount=50)
REFRESH_KEY = store_daily_sales.key


def _ran(results: list[dg.ExecuteInProcessResult]) -> list[tuple[int, int]]:
    """(store_daily_sales refreshed, sales_drop_check evaluated) per run."""
    return [
        (len(r.get_asset_materialization_events()), len(r.get_asset_check_evaluations())) for r in results
    ]


def _sales_on(shared_dir, instance, resources, batch_id: str, day, quantity: int = 3) -> None:
    """Load a batch with one sale of store 2 on `day` (the history's product costs 10.00)."""
    sale = {"sale_date": day.isoformat(), "order_id": 1, "store_id": 2, "product_id": 1, "quantity": quantity}
    write_batch_file(shared_dir, batch_id, datetime(2025, 4, 21, 7), [Event("sales_event", sale)])
    assert materialize_batches(instance, resources, [batch_id]).success


@pytest.fixture
def sensor(instance, resources, shared_dir) -> AnalyticsSensors:
    """The analytics sensors running since before the history's batch was loaded."""
    sensor = AnalyticsSensors(instance, {**resources, "sales_drop_rules": RULES})
    sensor.settle()  # the template database's change log asks for a first (full) refresh
    write_batch_file(shared_dir, "history", datetime(2025, 4, 21, 6), history_events())
    assert materialize_batches(instance, resources, ["history"]).success
    return sensor


def test_check_runs_only_after_refreshes_that_changed_the_judged_days(
    sensor, instance, resources, shared_dir
):
    # The history's batch is refreshed into the table; the next tick sees the new data version: the check runs.
    assert _ran(sensor.tick_and_launch()) == [(1, 0)]
    [check_run] = sensor.tick_and_launch()
    [evaluation] = check_run.get_asset_check_evaluations()
    assert evaluation.metadata["as_of_date"].value == AS_OF.isoformat() and not evaluation.passed
    assert _ran(sensor.tick_and_launch()) == []  # nothing new: nothing to do

    # Sales of the next day ("today", outside the judged window): refreshed, not judged again.
    _sales_on(shared_dir, instance, resources, "today", AS_OF + timedelta(days=1))
    [(job_name, refresh)] = sensor.tick()
    assert job_name == refresh_store_daily_sales_job.name  # the job selects the asset without its check
    assert _ran([sensor.launch(job_name, refresh)]) == [(1, 0)]
    assert _ran(sensor.tick_and_launch()) == []

    # Late sales of a day the check judges: refreshed, then judged in the next tick's run.
    _sales_on(shared_dir, instance, resources, "late", AS_OF - timedelta(days=3))
    assert _ran(sensor.tick_and_launch()) == [(1, 0)]
    [(job_name, request)] = sensor.tick()
    assert request.asset_selection == [] and request.asset_check_keys == [SALES_DROP_CHECK_KEY]
    assert _ran([sensor.launch(job_name, request)]) == [(0, 1)]
    assert _ran(sensor.tick_and_launch()) == []

    # A change of the as-of day itself (and of the rule) changes the fingerprint as well.
    sensor.resources["sales_drop_rules"] = SalesDropRules(
        as_of_date=(AS_OF + timedelta(days=1)).isoformat(), threshold_percent=-20, min_baseline_amount=50
    )
    _sales_on(shared_dir, instance, resources, "today_2", AS_OF + timedelta(days=2))
    assert _ran(sensor.tick_and_launch()) == [(1, 0)]
    assert _ran(sensor.tick_and_launch()) == [(0, 1)]

    # The UI lists the evaluations only: no "planned" or "skipped" rows for the refreshes without it.
    history = instance.event_log_storage.get_asset_check_execution_history(SALES_DROP_CHECK_KEY, limit=50)
    # (the fourth, oldest: the first refresh, of the empty database, judged a day without sales data)
    assert [record.status.value for record in history] == ["FAILED", "FAILED", "FAILED", "FAILED"]


def test_same_window_same_version_and_the_metadata_names_the_judged_days(sensor, instance):
    sensor.tick_and_launch()
    first = instance.get_latest_materialization_event(REFRESH_KEY).asset_materialization
    refresh = dg.materialize([store_daily_sales], instance=instance, resources=sensor.resources)
    again = refresh.asset_materializations_for_node("store_daily_sales")[0]
    assert again.tags["dagster/data_version"] == first.tags["dagster/data_version"]
    assert again.tags["dagster/data_version"].startswith(f"{AS_OF}/")
    assert again.metadata["sales_drop_as_of_date"].value == AS_OF.isoformat()
    assert again.metadata["sales_drop_window_store_days"].value > 0
    rule = {**sensor.resources, "sales_drop_rules": SalesDropRules(as_of_date=AS_OF.isoformat())}
    changed = dg.materialize([store_daily_sales], instance=instance, resources=rule)
    [materialization] = changed.asset_materializations_for_node("store_daily_sales")
    assert materialization.tags["dagster/data_version"] != first.tags["dagster/data_version"]
