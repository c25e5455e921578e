"""Housekeeping (issue 21.1): dagster_housekeeping_job deletes finished runs past their retention with their event
logs, check executions and compute logs; never the run holding a registered partition's latest materialisation
(nor an unpartitioned asset's); a pass that dies half-way is finished by the next; a second pass deletes nothing.

The Dagster instance is on PostgreSQL (a database of its own on the test server), as the platform's is.
"""

import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from psycopg2 import sql

from etl_project.cli.instance_status import instance_lines
from etl_project.database.embedded import with_database
from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.defs.operations import housekeeping
from etl_project.defs.operations.protected_runs import protected_run_ids
from etl_project.defs.operations.run_deletion import delete_expired_runs
from etl_project.defs.operations.run_retention import RunRetention
from etl_project.defs.operations.tick_logs import tick_retention_days
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project_tests.helpers import materialize_batches, write_generated_batch

pytestmark = pytest.mark.every_postgres_major

RAW_EVENTS = dg.AssetKey("raw_events")
#: Past the 30-day retention of successful runs, within the 90 days of failed ones.
LATER = datetime.now(timezone.utc) + timedelta(days=31)


@pytest.fixture
def pg_instance(pg_server_url: str, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose run and event storage is a fresh PostgreSQL database; compute logs on disk."""
    name = f"dagster_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(pg_server_url, name).replace("postgresql://", "postgresql+psycopg2://", 1)
    overrides = {
        "storage": {"postgres": {"postgres_url": url}},
        "compute_logs": {
            "module": "dagster._core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(tmp_path / "compute_logs")},
        },
    }
    try:
        with dg.instance_for_test(overrides=overrides) as instance:
            yield instance
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@dg.op
def fails() -> None:
    raise RuntimeError("a failed run, kept longer")


@dg.job
def failing_job() -> None:
    fails()


def _definitions(resources: dict) -> dg.Definitions:
    return dg.Definitions(
        assets=[batch_event_tables, store_daily_sales],
        jobs=[housekeeping.dagster_housekeeping_job],
        resources={
            "data_quality_limits": DataQualityLimits(),
            "sales_drop_rules": SalesDropRules(),
            "run_retention": RunRetention(),
            **resources,
        },
    )


def _history(instance: dg.DagsterInstance, resources: dict, shared_dir: Path) -> dict[str, str]:
    """Runs of every kind, named: b1 loaded twice, b2 once, b3 once and its partition dropped, bq quarantined,
    two refreshes of store_daily_sales, a failed run."""
    runs = {}
    for name, batch, seed in (
        ("b1_first", "b1", 1),
        ("b2", "b2", 2),
        ("b3", "b3", 3),
        ("b1_reload", "b1", 4),
    ):
        write_generated_batch(shared_dir, batch, seed=seed)
        runs[name] = materialize_batches(instance, resources, [batch]).run_id
    instance.delete_dynamic_partition(batch_partitions.name, "b3")  # partition retention dropped it
    (shared_dir / "bq.csv").write_text('"id","name"\n"1","x"\n')  # quarantined: a check, no materialisation
    runs["quarantined"] = materialize_batches(instance, resources, ["bq"]).run_id
    refresh_resources = {**resources, "sales_drop_rules": SalesDropRules()}
    for name in ("refresh_first", "refresh_latest"):
        runs[name] = dg.materialize(
            [store_daily_sales], instance=instance, resources=refresh_resources
        ).run_id
    runs["failed"] = failing_job.execute_in_process(instance=instance, raise_on_error=False).run_id
    return runs


def _compute_log_dirs(instance: dg.DagsterInstance) -> set[str]:
    base = Path(instance.compute_log_manager._base_dir)  # noqa: SLF001 (the local manager's folder)
    return {p.name for p in base.iterdir()} if base.exists() else set()


def _check_execution_runs(instance: dg.DagsterInstance) -> set[str]:
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable as table

    with instance.event_log_storage.index_connection() as conn:
        return {row[0] for row in conn.execute(table.select().with_only_columns(table.c.run_id))}


def _pass(instance: dg.DagsterInstance, repository: dg.RepositoryDefinition):
    protected = protected_run_ids(instance, repository.asset_graph)
    return delete_expired_runs(instance, LATER, 30, 90, protected, max_runs=1000, deadline=float("inf"))


def test_expired_runs_go_with_their_logs_and_latest_materialisations_stay(pg_instance, resources, shared_dir):
    instance = pg_instance
    runs = _history(instance, resources, shared_dir)
    repository = _definitions(resources).get_repository_def()
    assert runs["b1_first"] in _compute_log_dirs(instance)
    assert runs["b1_first"] in _check_execution_runs(instance)

    tally = _pass(instance, repository)

    kept = {r.run_id for r in instance.get_runs()}
    # b1's latest load, b2's only one, bq's reason, the latest refresh: they hold what the UI shows; the failed
    # run: 90 days
    assert kept == {
        runs["b1_reload"],
        runs["b2"],
        runs["quarantined"],
        runs["refresh_latest"],
        runs["failed"],
    }
    assert tally.deleted_by_status == {"SUCCESS": 3} and tally.kept_protected == 4
    gone = {runs["b1_first"], runs["b3"], runs["refresh_first"]}
    assert not gone & _compute_log_dirs(instance)
    assert not gone & _check_execution_runs(instance)
    for run_id in gone:
        assert not instance.get_records_for_run(run_id).records  # no event of a deleted run is left
    # every registered batch; bq's is the quarantine notice on its partition page (its reason, what to do)
    assert instance.get_materialized_partitions(RAW_EVENTS) == {"b1", "b2", "bq"}
    latest_b1 = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RAW_EVENTS, asset_partitions=["b1"]), limit=1
    ).records[0]
    assert latest_b1.run_id == runs["b1_reload"]
    assert instance.get_latest_materialization_event(store_daily_sales.key).run_id == runs["refresh_latest"]

    # Later still, the failed run is past its 90 days too; the protected ones stay.
    again = delete_expired_runs(
        instance,
        LATER + timedelta(days=60),
        30,
        90,
        protected_run_ids(instance, repository.asset_graph),
        max_runs=1000,
        deadline=float("inf"),
    )
    assert again.deleted_by_status == {"FAILURE": 1}
    assert {r.run_id for r in instance.get_runs()} == kept - {runs["failed"]}


def test_a_pass_that_dies_midway_is_finished_by_the_next_and_a_third_does_nothing(
    pg_instance, resources, shared_dir, monkeypatch
):
    instance = pg_instance
    runs = _history(instance, resources, shared_dir)
    repository = _definitions(resources).get_repository_def()
    real_delete_run = dg.DagsterInstance.delete_run
    calls = []

    def dies_on_the_second_run(self, run_id):
        calls.append(run_id)
        if len(calls) == 2:  # the process dies after the run's logs and events went, before its record
            raise SystemExit("killed")
        real_delete_run(self, run_id)

    monkeypatch.setattr(dg.DagsterInstance, "delete_run", dies_on_the_second_run)
    with pytest.raises(SystemExit):
        _pass(instance, repository)
    monkeypatch.setattr(dg.DagsterInstance, "delete_run", real_delete_run)
    half_deleted = calls[1]
    assert instance.get_run_by_id(half_deleted) is not None  # the record is there: still a candidate

    second = _pass(instance, repository)
    third = _pass(instance, repository)

    assert second.deleted == 2 and third.deleted == 0 and third.kept_protected == 4
    assert instance.get_run_by_id(half_deleted) is None
    kept = {r.run_id for r in instance.get_runs()}
    assert kept == {
        runs["b1_reload"],
        runs["b2"],
        runs["quarantined"],
        runs["refresh_latest"],
        runs["failed"],
    }
    assert _compute_log_dirs(instance) <= kept | {"schedules", "sensors"}


def test_the_job_reports_what_it_deleted_and_vacuums(pg_instance, resources, shared_dir, monkeypatch):
    instance = pg_instance
    runs = _history(instance, resources, shared_dir)
    monkeypatch.setattr(housekeeping, "_now", lambda: LATER)
    job = _definitions(resources).resolve_job_def("dagster_housekeeping_job")

    result = job.execute_in_process(instance=instance)

    metadata = _output_metadata(result, "delete_expired_runs")
    assert metadata["runs_deleted"] == 3
    assert metadata["runs_kept_holding_latest_materialisation"] == 4
    assert metadata["expired_runs_left"] == 4  # the protected ones (the failed run is within 90 days)
    assert metadata["vacuum"].startswith("vacuumed event_logs")
    assert metadata["database_mb_after"] > 0
    assert instance.get_run_by_id(runs["b1_first"]) is None
    status = "\n".join(instance_lines(instance.run_storage.postgres_url))  # what `etl status` prints
    assert (
        f"runs stored        {len(runs) - 3 + 1} (1 failed)" in status
    )  # + this housekeeping run and "database size" in status
    assert os.path.isdir(instance.compute_log_manager._base_dir)  # noqa: SLF001


def test_the_defaults_keep_partitions_under_dagsters_limit_at_one_batch_a_minute():
    """Dagster recommends at most 100,000 partitions per asset; the generator's cadence is a batch a minute."""
    from etl_project.defs.operations.resources import PartitionRetention

    assert PartitionRetention().retention_days * 24 * 60 <= 100_000
    retention = RunRetention()
    assert 0 < retention.retention_days <= retention.failed_retention_days


def test_run_retention_keeps_fractions_of_a_day_as_the_soak_benchmark_sets_them(monkeypatch):
    """`make bench`'s soak keeps runs minutes (ETL_RUN_RETENTION_DAYS=0.005): not truncated to 0 (keep forever)."""
    from etl_project.defs.operations.run_retention import run_retention_resources

    monkeypatch.setenv("ETL_RUN_RETENTION_DAYS", "0.005")
    monkeypatch.setenv("ETL_FAILED_RUN_RETENTION_DAYS", "0.01")
    monkeypatch.setenv("ETL_TICK_LOG_RETENTION_DAYS", "0.005")
    retention = run_retention_resources().resources["run_retention"]

    assert (retention.retention_days, retention.failed_retention_days) == (0.005, 0.01)
    assert retention.tick_log_retention_days == 0.005


def _output_metadata(result: dg.ExecuteInProcessResult, step: str) -> dict:
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT" and e.step_key == step]
    return {k: v.value for k, v in output.step_output_data.metadata.items()}


def _tick_log(
    instance: dg.DagsterInstance, sensor: str, tick_id: int, days_old: float, text: str = ""
) -> Path:
    """A tick's log files where the daemon writes them (key: repository, sensor, tick id), `days_old` days old."""
    manager = instance.compute_log_manager
    paths = [
        Path(manager.get_captured_local_path(["__repository__", sensor, str(tick_id)], ext))
        for ext in ("out", "err")
    ]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if path.suffix == ".err" else "", encoding="utf-8")
        then = time.time() - days_old * 86_400
        os.utime(path, (then, then))
    return paths[1]


def test_tick_logs_outlive_their_ticks_no_longer(pg_instance, resources):
    """Dagster's default tick retention (the test instance's): skipped sensor ticks 7 days, the others forever.
    So an empty tick log goes after 7 days, one with text stays (its tick may still be shown)."""
    instance = pg_instance
    empty_old = _tick_log(instance, "batch_file_sensor", 1, days_old=8)
    empty_recent = _tick_log(instance, "batch_file_sensor", 2, days_old=1)
    with_text_old = _tick_log(instance, "alert_delivery_sensor", 3, days_old=100, text="sent 1 message")
    not_an_instigator = _tick_log(instance, "not_a_sensor_of_this_code_location", 4, days_old=100)
    job = _definitions(resources).resolve_job_def("dagster_housekeeping_job")

    result = job.execute_in_process(instance=instance)

    metadata = _output_metadata(result, "delete_expired_tick_logs")
    assert metadata["tick_logs_deleted"] == 1 and metadata["rule"] == "empty after 7 days, any after forever"
    assert not empty_old.exists() and not empty_old.with_suffix(".out").exists()
    assert empty_recent.exists() and with_text_old.exists() and not_an_instigator.exists()


def test_tick_logs_older_than_their_own_retention_go_whatever_the_ticks(pg_instance, resources):
    """ETL_TICK_LOG_RETENTION_DAYS (fractions allowed, as the soak uses) caps how long any tick log is kept."""
    instance = pg_instance
    with_text_old = _tick_log(instance, "alert_delivery_sensor", 3, days_old=1, text="sent 1 message")
    with_text_recent = _tick_log(instance, "alert_delivery_sensor", 4, days_old=0.1, text="sent 1 message")
    retention = RunRetention(tick_log_retention_days=0.5)
    job = _definitions({**resources, "run_retention": retention}).resolve_job_def("dagster_housekeeping_job")

    result = job.execute_in_process(instance=instance)

    metadata = _output_metadata(result, "delete_expired_tick_logs")
    assert (
        metadata["tick_logs_deleted"] == 1 and metadata["rule"] == "empty after 0.5 days, any after 0.5 days"
    )
    assert not with_text_old.exists() and with_text_recent.exists()


def test_tick_log_retention_follows_the_instances_tick_retention():
    retention = {"purge_after_days": {"skipped": 1, "failure": 14, "success": 7}}
    with dg.instance_for_test(
        overrides={"retention": {"sensor": retention, "schedule": {"purge_after_days": 7}}}
    ) as instance:
        assert tick_retention_days(instance) == (1, 14)
