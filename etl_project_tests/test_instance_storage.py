"""The instance's own PostgreSQL storages (etl_project/instance_storage.py, named by dagster.local.yaml): a load
run records what the UI shows, each event stored whole, in one transaction."""

import time

import dagster as dg
import pytest
from dagster._core.events import StepMaterializationData
from dagster._core.execution.api import create_execution_plan
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from etl_project import definitions
from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.jobs import load_batches_job
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.sensors import RANGE_END_TAG, RANGE_START_TAG
from etl_project.event_log_writes import events_stored_together
from etl_project.instance_storage import PooledPostgresEventLogStorage
from etl_project_tests.helpers import check_evaluations, materialize_batches, write_generated_batch

BATCHES = ["b1", "b2", "b3"]


def test_a_load_run_records_every_materialization_and_check_per_batch(
    postgres_instance, resources, shared_dir
):
    assert isinstance(postgres_instance.event_log_storage, PooledPostgresEventLogStorage)
    for n, batch_id in enumerate(BATCHES):
        write_generated_batch(shared_dir, batch_id, seed=n + 1)

    assert materialize_batches(postgres_instance, resources, BATCHES).success

    for table in ("raw_events", "stores", "products", "orders", "sales"):
        materialized = postgres_instance.get_materialized_partitions(dg.AssetKey(table))
        assert materialized == set(BATCHES), table
    for check in ("batch_file_readable", "rows_accounted_for", "rejected_share"):
        evaluations = check_evaluations(postgres_instance, "raw_events", check)
        assert set(evaluations) == set(BATCHES), check
        assert all(e.passed for e in evaluations.values()), check
    # A batch's events are stored in two writes (event_log_writes.events_stored_together): each evaluation names
    # its partition's materialisation by the storage id the first write returned.
    for table in ("raw_events", "sales"):
        materialized = {
            r.partition_key: r.storage_id
            for r in postgres_instance.fetch_materializations(dg.AssetKey(table), limit=100).records
        }
        for batch_id, evaluation in check_evaluations(postgres_instance, table, "rows_accounted_for").items():
            assert evaluation.target_materialization_data is not None, (table, batch_id)
            assert evaluation.target_materialization_data.storage_id == materialized[batch_id], (
                table,
                batch_id,
            )
    records = postgres_instance.get_records_for_run(
        postgres_instance.get_runs(limit=1)[0].run_id, of_type=set(_BATCH_EVENT_TYPES)
    ).records
    per_batch = [(r.event_log_entry.dagster_event_type, _partition(r.event_log_entry)) for r in records]
    for batch_id in BATCHES:  # stored in the order they were yielded: materialisations, then their checks
        types = [event_type for event_type, partition in per_batch if partition == batch_id]
        assert types == sorted(types, key=_BATCH_EVENT_TYPES.index), batch_id
        assert types.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == 5, batch_id
        assert types.count(dg.DagsterEventType.ASSET_CHECK_EVALUATION) == 11, (
            batch_id
        )  # + references_valid, unpartitioned


_BATCH_EVENT_TYPES = [dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION]


def _partition(entry: dg.EventLogEntry) -> str | None:
    event = entry.get_dagster_event()
    if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        return event.asset_check_evaluation_data.partition
    return event.partition


def test_events_stored_together_are_stored_when_the_scope_ends_also_in_an_error(postgres_instance):
    """Held until the scope ends, then stored in one write; an error ending the scope stores them still (Dagster
    has handed them over as stored)."""
    key = dg.AssetKey("stores")
    with pytest.raises(RuntimeError, match="the step failed"):
        with events_stored_together(postgres_instance) as stored:
            postgres_instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="b1"))
            postgres_instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="b2"))
            postgres_instance.event_log_storage.store_event_batch(  # Dagster's own batches are held as well
                [_runless_materialization(key, "b3")]
            )
            assert not postgres_instance.fetch_materializations(key, limit=10).records  # held
            raise RuntimeError("the step failed")
    records = postgres_instance.fetch_materializations(key, limit=10).records
    assert sorted(r.partition_key for r in records) == ["b1", "b2", "b3"]
    for record in records:
        assert stored.materializations[(key, record.partition_key)].storage_id == record.storage_id
    latest = postgres_instance.get_latest_materialization_event(key)  # the asset's row: the last one stored
    assert latest is not None and latest.dagster_event.partition == "b3"


def _runless_materialization(key: dg.AssetKey, partition: str) -> dg.EventLogEntry:
    """The entry report_runless_asset_event stores, built here to hand to store_event_batch directly."""
    event = dg.DagsterEvent(
        event_type_value=dg.DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name="",
        event_specific_data=StepMaterializationData(dg.AssetMaterialization(key, partition=partition)),
    )
    return dg.EventLogEntry(
        error_info=None, level="debug", user_message="", run_id="", timestamp=time.time(), dagster_event=event
    )


def test_a_created_run_plans_each_check_on_each_of_its_partitions(postgres_instance):
    """What the UI shows of a run in progress: each asset planned on each partition of the run, and each check
    pending there (written in bulk, `event_log_writes`)."""
    job = definitions.load_definitions().resolve_job_def(load_batches_job.name)
    postgres_instance.add_dynamic_partitions(batch_partitions.name, BATCHES)
    tags = {**job.tags, RANGE_START_TAG: BATCHES[0], RANGE_END_TAG: BATCHES[-1]}
    plan = create_execution_plan(job, tags=tags, instance_ref=postgres_instance.get_ref())
    run = postgres_instance.create_run_for_job(job_def=job, execution_plan=plan, tags=tags)

    planned = postgres_instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    assert sorted((r.asset_key.path[-1], r.partition_key) for r in planned) == sorted(
        (key.path[-1], batch) for key in batch_event_tables.keys for batch in BATCHES
    )
    for record in postgres_instance.get_asset_records(list(batch_event_tables.keys)):
        assert record.asset_entry.last_run_id == run.run_id  # the asset's row: which run last planned it
    assert batch_event_tables.check_keys
    for check_key in batch_event_tables.check_keys:
        history = postgres_instance.event_log_storage.get_asset_check_execution_history(check_key, limit=10)
        assert sorted(r.partition for r in history) == BATCHES, check_key
        for record in history:
            assert (record.run_id, record.status) == (run.run_id, AssetCheckExecutionRecordStatus.PLANNED)
            assert record.event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED


def test_an_event_whose_index_rows_fail_is_not_stored_at_all(postgres_instance, monkeypatch):
    """dagster-postgres alone commits the event's row before its index rows; here neither or both are stored."""
    key = dg.AssetKey("stores")

    def failing_index_write(*args, **kwargs):
        raise RuntimeError("index write failed")

    monkeypatch.setattr(PooledPostgresEventLogStorage, "_store_asset_event", failing_index_write)
    with pytest.raises(RuntimeError, match="index write failed"):
        postgres_instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="b1"))
    monkeypatch.undo()
    assert not postgres_instance.fetch_materializations(key, limit=10).records

    postgres_instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="b1"))
    [record] = postgres_instance.fetch_materializations(key, limit=10).records
    assert record.partition_key == "b1"
    assert postgres_instance.get_latest_materialization_event(key) is not None  # the asset key's index row
