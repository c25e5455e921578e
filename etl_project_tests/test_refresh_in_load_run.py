"""A load run refreshes store_daily_sales after its batches (issue 21.6): no refresh run of its own per batch.

The run of load_batches_job (tagged etl/refreshes) records the refresh as store_daily_sales' materialisation,
with the data version sales_drop_check's automation condition compares; the change log is empty afterwards,
so pending_sales_refresh_sensor requests nothing, and the check runs at the next tick of the analytics sensors.
"""

from datetime import datetime

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from etl_project.dagster_private import DATA_VERSION_TAG
from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.jobs import load_batches_job
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.generator.events import Event, write_batch_file
from etl_project_tests.analytics_sensors import AnalyticsSensors
from etl_project_tests.helpers import materialize_batches
from etl_testkit.sales_history import AS_OF, history_events

pytestmark = pytest.mark.every_postgres_major

RULES = SalesDropRules(as_of_date=AS_OF.isoformat(), threshold_percent=-20, min_baseline_amount=50)


def _run_load_job(instance: dg.DagsterInstance, resources: dict, batch_id: str) -> dg.ExecuteInProcessResult:
    """load_batches_job for one batch, as batch_file_sensor's run executes it (the job's own tags)."""
    instance.add_dynamic_partitions(batch_partitions.name, [batch_id])
    definitions = dg.Definitions(
        assets=[batch_event_tables, store_daily_sales],
        asset_checks=[sales_drop_check],
        jobs=[load_batches_job],
        resources={"data_quality_limits": DataQualityLimits(), "sales_drop_rules": RULES, **resources},
    )
    job = definitions.resolve_job_def(load_batches_job.name)
    return job.execute_in_process(instance=instance, partition_key=batch_id)


def _stale_causes(instance: dg.DagsterInstance) -> list[str]:
    """Why the UI would call store_daily_sales "Unsynced" (Dagster's own resolver, as the asset graph uses it)."""
    graph = AssetGraph.from_assets([batch_event_tables, store_daily_sales])
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    causes = resolver.get_stale_causes(store_daily_sales.key)
    assert (resolver.get_status(store_daily_sales.key) == StaleStatus.STALE) == bool(causes)
    return [f"{c.dependency} {c.dependency_partition_key}: {c.reason}" for c in causes]


def _pending_changes(db) -> int:
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM etl.store_daily_sales_changes")
        return cur.fetchone()[0]


def test_a_load_run_refreshes_store_daily_sales_and_the_check_follows_without_a_refresh_run(
    instance, resources, shared_dir, db, monkeypatch
):
    # The load run reads the rules from the environment, as the code location does: the same as the sensors'.
    monkeypatch.setenv("ETL_SALES_DROP_AS_OF_DATE", AS_OF.isoformat())
    monkeypatch.setenv("ETL_SALES_DROP_THRESHOLD_PERCENT", "-20")
    monkeypatch.setenv("ETL_SALES_DROP_MIN_BASELINE", "50")
    sensors = AnalyticsSensors(instance, {**resources, "sales_drop_rules": RULES})
    sensors.settle()
    write_batch_file(shared_dir, "history", datetime(2025, 4, 21, 6), history_events())
    assert materialize_batches(instance, resources, ["history"]).success
    sensors.settle()  # refreshed by a refresh run (the history was not loaded by a load run), then judged

    # A late sale of the judged day (store 2, 4 x 10.00), loaded by a run of load_batches_job.
    sale = {"sale_date": AS_OF.isoformat(), "order_id": 1, "store_id": 2, "product_id": 1, "quantity": 4}
    write_batch_file(shared_dir, "late", datetime(2025, 4, 21, 7), [Event("sales_event", sale)])
    before = instance.get_latest_materialization_event(store_daily_sales.key)
    result = _run_load_job(instance, resources, "late")

    assert result.success
    assert result.dagster_run.tags.get("etl/refreshes") == "store_daily_sales"
    [refreshed] = [
        m for m in result.get_asset_materialization_events() if m.asset_key == store_daily_sales.key
    ]
    metadata = refreshed.materialization.metadata
    assert metadata["refresh_kind"].value == "incremental" and metadata["changes_consumed"].value == 1
    assert metadata["refreshed_by"].value == "load run"
    after = instance.get_latest_materialization_event(store_daily_sales.key)
    assert after is not None and after.run_id == result.run_id
    assert before is not None and after.asset_materialization is not None
    # The judged day changed: a new data version, which the check's automation condition compares.
    assert (
        after.asset_materialization.tags[DATA_VERSION_TAG]
        != before.asset_materialization.tags[DATA_VERSION_TAG]
    )
    assert _pending_changes(db) == 0

    # Next tick: no refresh run (nothing pending), the check's own run only.
    requests = sensors.tick()
    assert [job_name for job_name, _ in requests] == [None]
    [check_run] = [sensors.launch(job_name, request) for job_name, request in requests]
    assert len(check_run.get_asset_materialization_events()) == 0
    assert len(check_run.get_asset_check_evaluations()) == 1
    assert sensors.tick() == []


def test_a_load_run_that_loaded_nothing_does_not_refresh(instance, resources, shared_dir, db):
    (shared_dir / "empty.csv").write_bytes(b"")  # unreadable: quarantined, nothing loaded
    result = _run_load_job(instance, resources, "empty")

    assert result.success
    assert not [m for m in result.get_asset_materialization_events() if m.asset_key == store_daily_sales.key]


def test_a_load_runs_refresh_is_in_sync_with_a_quarantined_batch_beside_it(
    instance, resources, shared_dir, monkeypatch
):
    """The refresh records the provenance Dagster records for its own: without it, a partition of sales that
    never materialised (a quarantined batch) made store_daily_sales "Unsynced" in the asset graph for good."""
    monkeypatch.setenv("ETL_SALES_DROP_AS_OF_DATE", AS_OF.isoformat())
    (shared_dir / "broken.csv").write_bytes(
        b""
    )  # registered, quarantined: no materialisation of its partition
    assert _run_load_job(instance, resources, "broken").success
    write_batch_file(shared_dir, "history", datetime(2025, 4, 21, 6), history_events())
    result = _run_load_job(instance, resources, "history")

    assert result.success
    assert _stale_causes(instance) == []
    refreshed = instance.get_latest_materialization_event(store_daily_sales.key)
    assert refreshed is not None and refreshed.run_id == result.run_id
