"""A batch the database cannot take is quarantined and its run's other batches load; a registered batch left
without a record and without a run is loaded again by the sweep, and quarantined after a few attempts (#25.2)."""

import json

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from etl_project.defs.ingestion import stranded_batches
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.stranded_batches import stranded_batch_sensor
from etl_project.schemas import BATCH_FILE_COLUMNS
from etl_project_tests.helpers import count_rows, materialize_batches, quarantine_reason, quote

pytestmark = pytest.mark.every_postgres_major

HEADER = ",".join(quote(c) for c in BATCH_FILE_COLUMNS)
CREATED = "2025-04-20 09:20:00"


def _write(shared_dir, batch: str, payload: str, store_id: int = 1) -> None:
    store = json.dumps({"id": store_id, "created_at": CREATED, "name": "S", "tax_id": 1, "status": "active"})
    rows = [(batch, "store_event", store, CREATED), (batch, "order_event", payload, CREATED)]
    lines = [HEADER, *(",".join(quote(v) for v in row) for row in rows)]
    (shared_dir / f"{batch}.csv").write_text("\n".join(lines) + "\n")


def test_a_file_the_database_cannot_take_is_quarantined_and_the_run_goes_on(
    instance, resources, shared_dir, db
):
    order = json.dumps({"id": 1, "created_at": CREATED, "user_id": 1})
    _write(shared_dir, "a_good", order)
    _write(shared_dir, "b_deep", '{"id": 2, "x": ' + "[" * 200_000 + "]" * 200_000 + "}", store_id=2)
    _write(shared_dir, "c_good", order.replace('"id": 1', '"id": 3'), store_id=3)

    result = materialize_batches(instance, resources, ["a_good", "b_deep", "c_good"])

    assert result.success
    assert "stack depth limit exceeded" in quarantine_reason(instance, "b_deep")
    assert set(count_rows(db, "b_deep").values()) == {0}
    assert count_rows(db, "a_good")["stores"] == 1 and count_rows(db, "c_good")["stores"] == 1
    with db.cursor() as cur:
        cur.execute("SELECT batch_id, status FROM utilities.processed_files ORDER BY 1")
        assert cur.fetchall() == [("a_good", "loaded"), ("b_deep", "quarantined"), ("c_good", "loaded")]


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _sweep(instance, resources, cursor):
    context = dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor)
    result = stranded_batch_sensor(context)
    return result, context.cursor if result.cursor is None else result.cursor


def test_registered_batches_without_record_or_run_are_loaded_again_then_quarantined(
    instance, resources, shared_dir, db, monkeypatch
):
    clock = _Clock()
    monkeypatch.setattr(stranded_batches, "_now", clock)
    order = json.dumps({"id": 1, "created_at": CREATED, "user_id": 1})
    for n, batch in enumerate(["a", "b", "c"], start=1):
        _write(shared_dir, batch, order.replace('"id": 1', f'"id": {n}'), store_id=n)
    materialize_batches(instance, resources, ["a"])  # loaded: recorded
    instance.add_dynamic_partitions(
        batch_partitions.name, ["b", "c", "queued"]
    )  # b, c: a run that never came
    create_run_for_test(
        instance,
        job_name="load_batches_job",
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": "queued"},
    )

    first, cursor = _sweep(instance, resources, None)
    assert not first.run_requests  # not stranded for long yet
    clock.now += stranded_batches.STRANDED_AFTER_SECONDS
    second, cursor = _sweep(instance, resources, cursor)
    [request] = second.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "b"
    assert request.tags["dagster/asset_partition_range_end"] == "c"  # "queued" has its run

    materialize_batches(instance, resources, ["b"])  # that run loaded b, but not c
    clock.now += stranded_batches.STRANDED_AFTER_SECONDS
    third, cursor = _sweep(instance, resources, cursor)
    assert [r.partition_key for r in third.run_requests] == ["c"]
    for _ in range(stranded_batches.MAX_SWEEP_ATTEMPTS - 2):  # c never loads: requested 3 times in all
        clock.now += stranded_batches.STRANDED_AFTER_SECONDS
        again, cursor = _sweep(instance, resources, cursor)
        assert [r.partition_key for r in again.run_requests] == ["c"]
    clock.now += stranded_batches.STRANDED_AFTER_SECONDS
    last, cursor = _sweep(instance, resources, cursor)
    assert not last.run_requests
    with db.cursor() as cur:
        cur.execute("SELECT status, error FROM utilities.processed_files WHERE batch_id = 'c'")
        status, error = cur.fetchone()
    assert status == "quarantined" and "not loaded after 3 more runs" in error
    assert json.loads(cursor) == {"attempts": {}, "since": {}}  # "queued" is covered by its run
