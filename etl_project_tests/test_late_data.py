"""Late data: a sale that arrives before its store is rejected, then replayed exactly once."""

import json

import dagster as dg
import pytest

from etl_project.defs.ingestion.late_data import replay_late_events_job
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.loading import category_of
from etl_project_tests.helpers import (
    check_evaluations,
    count_rows,
    entity_rows,
    materialize_batches,
    write_raw_batch,
)

pytestmark = pytest.mark.every_postgres_major

TS = "2025-04-20 09:20:00"
SALE = {"sale_date": "2025-04-20", "order_id": 3, "store_id": 1, "product_id": 2, "quantity": 2}


def _replay(instance, etl_database) -> dg.ExecuteInProcessResult:
    result = replay_late_events_job.execute_in_process(
        instance=instance,
        resources={"etl_database": etl_database, "data_quality_limits": DataQualityLimits()},
    )
    assert result.success
    return result


def test_sale_before_its_store_is_replayed_once_when_the_store_arrives(
    instance, resources, etl_database, shared_dir, db
):
    write_raw_batch(
        shared_dir,
        "sales_first",
        [
            ("sales_first", "sales_event", json.dumps(SALE), TS),
            ("sales_first", "sales_event", json.dumps({**SALE, "store_id": 77}), TS),  # never arrives
            (
                "sales_first",
                "sales_event",
                json.dumps({**SALE, "quantity": 0}),
                TS,
            ),  # not a reference problem
        ],
    )
    write_raw_batch(
        shared_dir,
        "entities_later",
        entity_rows("entities_later", TS),
    )
    materialize_batches(instance, resources, ["sales_first"])
    assert count_rows(db, "sales_first")["rejected_events"] == 3
    before = check_evaluations(instance, "sales", "rejected_share")["sales_first"]
    assert before.metadata["top_reasons"].value[0] == {"reason": "unknown order_id", "count": 2}
    _replay(instance, etl_database)  # nothing can move yet
    assert count_rows(db, "sales_first")["sales"] == 0

    materialize_batches(instance, resources, ["entities_later"])
    result = _replay(instance, etl_database)
    _replay(instance, etl_database)  # a second replay moves nothing more

    counts = count_rows(db, "sales_first")
    assert counts["sales"] == 1 and counts["rejected_events"] == 2
    with db.cursor() as cur:
        cur.execute(
            "SELECT rejection_reason FROM etl.rejected_events WHERE batch_id = 'sales_first' ORDER BY file_row"
        )
        assert [category_of(r[0]) for r in cur.fetchall()] == ["unknown store_id", "not positive"]
        cur.execute(
            "SELECT rows_loaded, rows_rejected FROM utilities.processed_files WHERE batch_id = 'sales_first'"
        )
        assert cur.fetchone() == (1, 2)
    [event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
    assert event.asset_key == dg.AssetKey("sales") and event.partition == "sales_first"
    replayed = event.step_materialization_data.materialization.metadata
    assert replayed["rows_rejected"].value == 2 and len(replayed["rejected_rows"].value.records) == 2
    # the checks are evaluated again on the new counts, against the replay's materialisation
    after = check_evaluations(instance, "sales", "rejected_share")["sales_first"]
    assert after.metadata["rows_loaded"].value == 1 and after.metadata["rows_rejected"].value == 2
    assert after.metadata["top_reasons"].value == [
        {"reason": "not positive", "count": 1},
        {"reason": "unknown store_id", "count": 1},
    ]
    assert after.target_materialization_data.run_id == result.run_id
    assert check_evaluations(instance, "sales", "rows_accounted_for")["sales_first"].passed
