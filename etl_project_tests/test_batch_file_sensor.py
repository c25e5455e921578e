"""The batch file sensor: new files become partitions and deduplicated run requests."""

import os
import time

import dagster as dg
import pytest
from dagster._core.definitions.instigation_logger import get_instigation_log_records

from etl_project.defs.ingestion.assets import MAX_BATCHES_PER_RUN
from etl_project.defs.ingestion.jobs import LOAD_RUNS_AT_ONCE
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.sensors import (
    MIN_BATCHES_PER_RUN,
    RANGE_END_TAG,
    RANGE_START_TAG,
    batch_file_sensor,
    plan_runs,
)
from etl_project.generator.events import PARTIAL_SUFFIX
from etl_project.resources import SharedDirectory
from etl_project_tests.helpers import materialize_batches, write_generated_batch

pytestmark = pytest.mark.every_postgres_major


def _tick(instance, resources, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor)
    return batch_file_sensor(context)


def _apply(instance, result) -> None:
    """What the daemon does with a tick's result before launching runs: register the partitions."""
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def test_new_file_registers_its_partition_and_requests_a_run(instance, resources, shared_dir):
    write_generated_batch(shared_dir, "manual__2025-04-20T09:20:00+00:00")

    result = _tick(instance, resources)

    assert [r.partition_keys for r in result.dynamic_partitions_requests] == [
        ["manual__2025-04-20T09:20:00+00:00"]
    ]
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [
        ("manual__2025-04-20T09:20:00+00:00", "batch:manual__2025-04-20T09:20:00+00:00")
    ]


def test_second_tick_requests_nothing_for_the_same_file(instance, resources, shared_dir):
    write_generated_batch(shared_dir, "b1")
    first = _tick(instance, resources)
    _apply(instance, first)

    second = _tick(instance, resources)

    assert isinstance(second, dg.SkipReason)
    assert instance.get_dynamic_partitions(batch_partitions.name) == ["b1"]


def test_run_keys_are_stable_so_the_daemon_deduplicates_a_repeated_request(instance, resources, shared_dir):
    write_generated_batch(shared_dir, "b1")
    write_generated_batch(shared_dir, "b2", seed=2)
    # a tick whose result was lost (e.g. the daemon restarted) is evaluated again: same run keys
    assert [r.run_key for r in _tick(instance, resources).run_requests] == [
        r.run_key for r in _tick(instance, resources).run_requests
    ]


def test_loaded_file_whose_partition_was_pruned_is_not_requested_again(instance, resources, shared_dir):
    write_generated_batch(shared_dir, "old")
    materialize_batches(instance, resources, ["old"])
    instance.delete_dynamic_partition(batch_partitions.name, "old")

    assert isinstance(_tick(instance, resources), dg.SkipReason)


def test_half_written_and_foreign_files_are_ignored(instance, etl_database, shared_dir):
    (shared_dir / f".b9.csv{PARTIAL_SUFFIX}").write_text("partial")
    (shared_dir / "notes.txt").write_text("not a batch")
    fresh = write_generated_batch(shared_dir, "still_being_written")
    os.utime(fresh, (time.time(), time.time()))
    resources = {
        "etl_database": etl_database,
        "shared_directory": SharedDirectory(path=str(shared_dir), settle_seconds=30),
    }

    assert isinstance(_tick(instance, resources), dg.SkipReason)

    old = time.time() - 60
    os.utime(fresh, (old, old))
    assert [r.partition_key for r in _tick(instance, resources).run_requests] == ["still_being_written"]


def test_a_backlog_is_covered_by_few_runs_over_partition_ranges(instance, resources, shared_dir):
    for n in range(5):
        write_generated_batch(shared_dir, f"batch_{n:03d}", seed=n + 1)

    result = _tick(instance, resources)

    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [
        [f"batch_{n:03d}" for n in range(5)]
    ]
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags[RANGE_START_TAG] == "batch_000"
    assert result.run_requests[0].tags[RANGE_END_TAG] == "batch_004"


def _ranges(requests: list[dg.RunRequest]) -> list[tuple[str | None, str | None, str | None]]:
    return [(r.tags.get(RANGE_START_TAG), r.tags.get(RANGE_END_TAG), r.partition_key) for r in requests]


def test_plan_runs_chunks_sorted_keys():
    requests = plan_runs(["c", "a", "b", "e", "d"], slots=1, max_per_run=2)
    assert _ranges(requests) == [
        (None, None, "a"),
        ("b", "c", None),
        ("d", "e", None),
    ]  # equal, give or take one


def _planned_sizes(batches: int, **plan) -> list[int]:
    """Sizes of the planned runs, after checking that their ranges cover the sorted keys in order, once each."""
    keys = [f"b{n:05d}" for n in range(batches)]
    sizes, covered = [], 0
    for first, last, single in _ranges(plan_runs(list(reversed(keys)), **plan)):
        first, last = (single, single) if single else (first, last)
        assert keys.index(first) == covered, "each run starts where the one before ended"
        sizes.append(keys.index(last) - covered + 1)
        covered += sizes[-1]
    assert covered == batches
    return sizes


@pytest.mark.parametrize(
    ("batches", "sizes"),
    [
        (1, [1]),
        (19, [19]),  # too small to be worth a second run's start-up
        (45, [22, 23]),
        (500, [166, 167, 167]),  # the bench's backlog: every load slot busy, one wave
        (600, [200, 200, 200]),
        (1000, [166, 167, 167, 166, 167, 167]),  # two full waves, not 200 x 5 (a second wave of two)
    ],
)
def test_a_backlog_fills_the_load_slots_in_as_few_full_waves_as_the_cap_allows(batches, sizes):
    assert LOAD_RUNS_AT_ONCE == 3 and MAX_BATCHES_PER_RUN == 200 and MIN_BATCHES_PER_RUN == 20
    assert _planned_sizes(batches) == sizes


@pytest.mark.parametrize("batches", [2, 21, 59, 60, 61, 199, 599, 601, 1799, 1801, 5000])
@pytest.mark.parametrize("slots", [1, 2, 3, 4])
def test_no_planned_run_exceeds_the_cap_or_leaves_a_slot_idle_needlessly(batches, slots):
    sizes = _planned_sizes(batches, slots=slots)
    assert max(sizes) <= MAX_BATCHES_PER_RUN
    assert max(sizes) - min(sizes) <= 1, "runs of a plan are equal in size, give or take a batch"
    if len(sizes) < slots:  # a slot left idle: only when no more runs of MIN_BATCHES_PER_RUN fit
        assert batches < (len(sizes) + 1) * MIN_BATCHES_PER_RUN
    else:
        assert len(sizes) % slots == 0 or len(sizes) == -(-batches // MAX_BATCHES_PER_RUN)


def test_missing_shared_directory_is_reported_on_the_tick(instance, etl_database, tmp_path):
    resources = {
        "etl_database": etl_database,
        "shared_directory": SharedDirectory(path=str(tmp_path / "gone")),
    }

    result = _tick(instance, resources)

    assert isinstance(result, dg.SkipReason)
    assert "Cannot list the shared directory" in result.skip_message

    (tmp_path / "gone").mkdir()  # the directory is back: the next tick works again
    back = write_generated_batch(tmp_path / "gone", "back")
    os.utime(back, (time.time() - 60, time.time() - 60))
    assert [r.partition_key for r in _tick(instance, resources).run_requests] == ["back"]


def test_file_replaced_after_loading_is_reloaded_once(instance, resources, shared_dir, db):
    path = write_generated_batch(shared_dir, "replaced", seed=4)
    materialize_batches(instance, resources, ["replaced"])
    assert isinstance(_tick(instance, resources), dg.SkipReason)

    write_generated_batch(shared_dir, "replaced", seed=5)  # same name, other content
    old = time.time() - 60
    os.utime(path, (old, old))
    result = _tick(instance, resources)

    [request] = result.run_requests
    assert request.partition_key == "replaced"
    assert request.run_key.startswith("batch:replaced:")
    materialize_batches(instance, resources, ["replaced"])
    assert isinstance(_tick(instance, resources), dg.SkipReason)
    with db.cursor() as cur:
        cur.execute("SELECT min(id) FROM etl.stores WHERE batch_id = 'replaced'")
        assert cur.fetchone()[0] == 5000  # the second version's ids, loaded once


def test_retention_drops_partitions_of_old_loaded_batches_but_keeps_their_rows(
    instance, resources, shared_dir, db
):
    from etl_project.defs.operations.resources import PartitionRetention
    from etl_project.defs.operations.sensors import batch_partition_retention_sensor

    write_generated_batch(shared_dir, "old", seed=1)
    write_generated_batch(shared_dir, "recent", seed=2)
    materialize_batches(instance, resources, ["old", "recent"])
    with db.cursor() as cur:
        cur.execute(
            "UPDATE utilities.processed_files SET loaded_at = now() - interval '100 days' WHERE batch_id = 'old'"
        )
    context = dg.build_sensor_context(
        instance=instance,
        resources={
            "etl_database": resources["etl_database"],
            "partition_retention": PartitionRetention(retention_days=90),
        },
    )

    result = batch_partition_retention_sensor(context)

    [request] = result.dynamic_partitions_requests
    assert list(request.partition_keys) == ["old"]
    instance.delete_dynamic_partition(batch_partitions.name, "old")
    assert isinstance(_tick(instance, resources), dg.SkipReason)  # the file is not loaded again
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM etl.raw_events WHERE batch_id = 'old'")
        assert cur.fetchone()[0] > 0


def test_retention_counts_fractions_of_a_day_as_the_soak_benchmark_sets_them(
    instance, resources, shared_dir, db, monkeypatch
):
    """`make bench`'s soak keeps partitions minutes (ETL_PARTITION_RETENTION_DAYS=0.005, about 7 minutes): the
    fraction is kept (not truncated to 0, which disables retention) and a batch loaded 10 minutes ago goes."""
    from etl_project.defs.operations.resources import operations_resources
    from etl_project.defs.operations.sensors import batch_partition_retention_sensor

    monkeypatch.setenv("ETL_PARTITION_RETENTION_DAYS", "0.005")
    retention = operations_resources().resources["partition_retention"]
    assert retention.retention_days == 0.005
    write_generated_batch(shared_dir, "ten_minutes_ago", seed=1)
    write_generated_batch(shared_dir, "just_now", seed=2)
    materialize_batches(instance, resources, ["ten_minutes_ago", "just_now"])
    with db.cursor() as cur:
        cur.execute(
            "UPDATE utilities.processed_files SET loaded_at = now() - interval '10 minutes' "
            "WHERE batch_id = 'ten_minutes_ago'"
        )
    context = dg.build_sensor_context(
        instance=instance,
        resources={"etl_database": resources["etl_database"], "partition_retention": retention},
    )

    [request] = batch_partition_retention_sensor(context).dynamic_partitions_requests

    assert list(request.partition_keys) == ["ten_minutes_ago"]


def test_each_tick_says_what_it_did(instance, resources, shared_dir):
    """A tick that requested runs names the new files in its log (shown with the tick in the UI); a skipped
    tick says how many files it looked at."""
    for seed, batch_id in enumerate(["c", "a", "b"], start=1):
        write_generated_batch(shared_dir, batch_id, seed=seed)
    context = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),  # the tick's log is written to this instance, as the daemon's is
        resources=resources,
        repository_name="etl_project",
        sensor_name="batch_file_sensor",
    )
    with context:
        _apply(instance, batch_file_sensor(context))

    logged = [record["msg"] for record in get_instigation_log_records(instance, context.log_key)]
    assert logged[0].endswith("batch_file_sensor - 3 new files: a, b, c")
    skipped = _tick(instance, resources)
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message == f"No new files among 3 in {shared_dir}"
