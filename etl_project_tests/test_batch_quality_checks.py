"""The per-batch data-quality checks (rows_accounted_for, rejected_share), as the Dagster instance records them."""

import json

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.checks import (
    ALERT_ON_FAILURE,
    JudgedMaterializations,
    data_quality_evaluations,
)
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.loading import RowsAccount
from etl_project_tests.helpers import (
    check_evaluations,
    entity_rows,
    materialize_batches,
    write_generated_batch,
    write_raw_batch,
)

pytestmark = pytest.mark.every_postgres_major

CREATED = "2025-04-20 09:20:00"
SALE = {"order_id": 3, "store_id": 1, "product_id": 2, "quantity": 1, "sale_date": "2025-04-20"}
TABLES = ("raw_events", "stores", "products", "orders", "sales")


def _batch_with_30_percent_bad_sales(shared_dir, batch_id: str) -> None:
    """3 entities and 10 sales, of which 2 name an unknown store and 1 sells nothing."""
    sales = [{**SALE}] * 7 + [{**SALE, "store_id": 99}, {**SALE, "store_id": 98}, {**SALE, "quantity": 0}]
    rows = entity_rows(batch_id, CREATED) + [(batch_id, "sales_event", json.dumps(s), CREATED) for s in sales]
    write_raw_batch(shared_dir, batch_id, rows)


@pytest.mark.parametrize("instance_kind", ["instance", "postgres_instance"])
def test_a_batch_with_30_percent_bad_rows_warns_with_its_top_reasons(
    request, instance_kind, resources, shared_dir
):
    """On a test instance, and on the repository's own (PostgreSQL storages writing a batch's events together)."""
    instance = request.getfixturevalue(instance_kind)
    _batch_with_30_percent_bad_sales(shared_dir, "bad_sales")
    write_generated_batch(shared_dir, "good")

    assert materialize_batches(instance, resources, ["bad_sales", "good"]).success

    share = check_evaluations(instance, "sales", "rejected_share")
    warned = share["bad_sales"]
    assert (warned.passed, warned.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert {
        k: warned.metadata[k].value for k in ("file", "rows_in_file", "rows_loaded", "rows_rejected")
    } == {
        "file": "bad_sales.csv",
        "rows_in_file": 10,
        "rows_loaded": 7,
        "rows_rejected": 3,
    }
    assert warned.metadata["rejected_percent"].value == 30.0
    assert warned.metadata["top_reasons"].value == [
        {"reason": "unknown store_id", "count": 2},
        {"reason": "not positive", "count": 1},
    ]
    assert "unknown store_id (2), not positive (1)" in warned.description
    whole_file = check_evaluations(instance, "raw_events", "rejected_share")["bad_sales"]
    assert not whole_file.passed and whole_file.metadata["rows_in_file"].value == 13
    assert check_evaluations(instance, "stores", "rejected_share")[
        "bad_sales"
    ].passed  # its own rows were fine
    for table in TABLES:
        assert check_evaluations(instance, table, "rejected_share")["good"].passed
        accounted = check_evaluations(instance, table, "rows_accounted_for")
        assert accounted["bad_sales"].passed and accounted["good"].passed
        assert accounted["good"].severity == dg.AssetCheckSeverity.ERROR
    # What the UI lists per partition: each planned execution row now holds its evaluation's outcome.
    for table, check, bad_status in [
        ("sales", "rejected_share", AssetCheckExecutionRecordStatus.FAILED),
        ("stores", "rejected_share", AssetCheckExecutionRecordStatus.SUCCEEDED),
        ("sales", "rows_accounted_for", AssetCheckExecutionRecordStatus.SUCCEEDED),
    ]:
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(table), check), limit=10
        )
        statuses = {record.partition: record.status for record in history}
        assert statuses == {"bad_sales": bad_status, "good": AssetCheckExecutionRecordStatus.SUCCEEDED}


def test_the_limit_comes_from_data_quality_limits(instance, resources, shared_dir):
    _batch_with_30_percent_bad_sales(shared_dir, "tolerated")

    materialize_batches(
        instance,
        {**resources, "data_quality_limits": DataQualityLimits(max_rejected_percent=30)},
        ["tolerated"],
    )

    evaluation = check_evaluations(instance, "sales", "rejected_share")["tolerated"]
    assert evaluation.passed and evaluation.metadata["max_rejected_percent"].value == 30


def test_rows_not_adding_up_fail_rows_accounted_for_as_an_error(instance):
    lost_one = RowsAccount(
        rows_in_file=10, rows_loaded=8, rows_rejected=1, rejected_by_reason={"wrong type": 1}
    )

    [accounted, share] = data_quality_evaluations(
        JudgedMaterializations(instance, "b", [dg.AssetKey("sales")]),
        {dg.AssetKey("sales"): lost_one},
        "b",
        "b.csv",
        DataQualityLimits(),
    )

    assert (accounted.check_name, accounted.passed, accounted.severity) == (
        "rows_accounted_for",
        False,
        dg.AssetCheckSeverity.ERROR,
    )
    assert accounted.partition == "b" and "8 loaded + 1 rejected != 10 rows in b.csv" in accounted.description
    assert (share.check_name, share.passed, share.severity) == (
        "rejected_share",
        False,
        dg.AssetCheckSeverity.WARN,
    )
    assert share.metadata["rejected_percent"].value == 10.0  # above the default 5%


def test_the_checks_are_declared_per_batch_partition_and_alert_on_failure():
    specs = {(s.asset_key.to_user_string(), s.name): s for s in batch_event_tables.check_specs}
    for table in TABLES:
        for name in ("rows_accounted_for", "rejected_share"):
            spec = specs[(table, name)]
            assert spec.partitions_def is not None and spec.metadata[ALERT_ON_FAILURE] is True
    readable = specs[("raw_events", "batch_file_readable")]
    assert ALERT_ON_FAILURE not in readable.metadata


def test_etl_max_rejected_percent_sets_the_limit(monkeypatch):
    from etl_project.definitions import build_resources

    monkeypatch.delenv("ETL_MAX_REJECTED_PERCENT", raising=False)
    assert build_resources()["data_quality_limits"].max_rejected_percent == 5.0
    monkeypatch.setenv("ETL_MAX_REJECTED_PERCENT", "12.5")
    assert build_resources()["data_quality_limits"].max_rejected_percent == 12.5


def test_the_rejected_rows_table_shows_the_first_50_next_to_the_total(instance, resources, shared_dir):
    bad = [("many", "sales_event", json.dumps({**SALE, "quantity": -n}), CREATED) for n in range(1, 61)]
    rows = entity_rows("many", CREATED) + bad
    write_raw_batch(shared_dir, "many", rows)

    materialize_batches(instance, resources, ["many"])

    sales = instance.get_latest_materialization_event(dg.AssetKey("sales")).asset_materialization.metadata
    shown = sales["rejected_rows"].value.records
    assert sales["rows_rejected"].value == 60 and len(shown) == 50
    assert [r.data["file_row"] for r in shown] == list(range(4, 54))  # the first 50, after the 3 entities
    assert shown[0].data["reason"] == "not positive: quantity must be > 0, got -1"
