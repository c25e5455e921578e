"""Each materialisation's metadata reads on its own: the counts of a batch add up in its `row_accounting`
entry, and store_daily_sales says which days the refresh recomputed and which the table spans."""

import json

import dagster as dg

from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project_tests.helpers import entity_rows, materialize_batches, write_raw_batch

CREATED = "2025-04-20 09:20:00"
SALE = {"order_id": 3, "store_id": 1, "product_id": 2, "quantity": 1, "sale_date": "2025-04-20"}


def _metadata(instance: dg.DagsterInstance, asset: str) -> dict[str, object]:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization
    return {key: value.value for key, value in event.metadata.items()}


def test_a_bad_batch_says_how_its_counts_add_up(instance, resources, shared_dir):
    rows = entity_rows("bad", CREATED) + [
        ("bad", "sales_event", json.dumps(SALE), CREATED),
        ("bad", "sales_event", json.dumps({**SALE, "store_id": 99}), CREATED),  # rejected by sales
        ("bad", "sales_event", json.dumps({**SALE, "quantity": 0}), CREATED),  # rejected by sales
        ("bad", "sales_event", "{not json", CREATED),  # rejected before raw_events
        ("bad", "refund_event", "{}", CREATED),  # rejected before raw_events
    ]
    write_raw_batch(shared_dir, "bad", rows)

    materialize_batches(instance, {"data_quality_limits": DataQualityLimits(), **resources}, ["bad"])

    raw, sales = _metadata(instance, "raw_events"), _metadata(instance, "sales")
    assert (raw["rows_in_file"], raw["dagster/row_count"], raw["rows_rejected"]) == (8, 6, 4)
    assert list(raw)[0] == "row_accounting"  # shown first
    assert raw["row_accounting"] == (
        "8 rows in the file (rows_in_file) = 4 loaded into the event tables + 4 rejected (rows_rejected). "
        "raw_events holds 6 (dagster/row_count): all but the 2 rejected before reaching it (envelope_rejects)."
    )
    assert sales["row_accounting"] == (
        "4 rows of sales_event in the file = 1 in this table (dagster/row_count) + 3 rejected (rows_rejected)."
    )
    assert (sales["dagster/row_count"], sales["rows_rejected"]) == (1, 3)


def test_store_daily_sales_tells_the_refreshed_days_from_the_tables_days(instance, resources, shared_dir):
    for batch, day in (("day1", "2025-04-20"), ("day2", "2025-04-21")):
        rows = entity_rows(batch, CREATED) if batch == "day1" else []
        rows += [(batch, "sales_event", json.dumps({**SALE, "sale_date": day}), CREATED)]
        write_raw_batch(shared_dir, batch, rows)
    refresh = {"etl_database": resources["etl_database"], "sales_drop_rules": SalesDropRules()}
    materialize_batches(instance, resources, ["day1"])
    dg.materialize([store_daily_sales], instance=instance, resources=refresh)
    materialize_batches(instance, resources, ["day2"])

    dg.materialize([store_daily_sales], instance=instance, resources=refresh)

    metadata = _metadata(instance, "store_daily_sales")
    assert (metadata["refreshed_first_day"], metadata["refreshed_last_day"]) == ("2025-04-21", "2025-04-21")
    assert (metadata["table_first_day"], metadata["table_last_day"]) == ("2025-04-20", "2025-04-21")
    assert metadata["table_store_days"] == metadata["dagster/row_count"] == 2
    assert "first_sale_date" not in metadata
