"""Issue 11 part 2, after `etl adopt-legacy`: the adopted database works as if the platform had always run.

The legacy pipeline's files are never requested again, a new file written the legacy way loads on top of the
adopted history (ids continue, references to legacy rows hold), and the sales-drop check flags the legacy
store on its first evaluation. The conversion itself is tested in test_legacy_adoption.py.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import dagster as dg
import pytest

from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.defs.sales_analytics.assets import store_daily_sales
from etl_project.defs.sales_analytics.checks import sales_drop_check
from etl_project.defs.sales_analytics.resources import SalesDropRules
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project_tests.helpers import count_rows, materialize_batches
from etl_project_tests.legacy_adoption_fixtures import (
    LegacyDatabase,
    connect_to,
    query_rows,
    row_counts,
)
from etl_testkit.legacy_database import STAMP, LegacyBatch, LegacyHistory, write_legacy_file

pytestmark = pytest.mark.every_postgres_major


@pytest.fixture
def legacy_resources(adopted: LegacyDatabase, shared_dir: Path) -> dict:
    return {
        "etl_database": EtlDatabase(url=adopted.url),
        "shared_directory": SharedDirectory(path=str(shared_dir), settle_seconds=0),
    }


def _new_legacy_style_batch(history: LegacyHistory) -> LegacyBatch:
    """A file written after the switch, the legacy way: entities without ids, sales referencing legacy rows
    (a seed store and product, a store and an order of a legacy batch), sale_date with its time of day."""
    today = history.as_of + timedelta(days=1)
    batch = LegacyBatch(
        f"scheduled__{today.isoformat()}T09:20:00+00:00", datetime.combine(today, time(9, 20))
    )
    created = (batch.created_at - timedelta(minutes=5)).strftime(STAMP)
    for n in range(2):
        batch.events.append(
            (
                "store_event",
                {"created_at": created, "name": f"New{n}", "tax_id": 123456789012 + n, "status": "active"},
            )
        )
        batch.events.append(("product_event", {"created_at": created, "name": f"NewP{n}", "price": 12.5}))
    for n in range(10):
        batch.events.append(("order_event", {"created_at": created, "user_id": 100 + n}))
    for minute in (1, 700, 1439):
        sold = (datetime.combine(today, time()) + timedelta(minutes=minute)).strftime(STAMP)
        sale = {"sale_date": sold, "order_id": 21, "store_id": history.dropping_store_id, "product_id": 1}
        batch.events.append(("sales_event", {**sale, "quantity": 3}))
    sale = {
        "sale_date": f"{today} 08:00:00",
        "order_id": 1,
        "store_id": history.steady_store_id,
        "product_id": 2,
    }
    batch.events.append(("sales_event", {**sale, "quantity": 1}))
    return batch


def test_files_of_the_legacy_processed_files_are_never_requested_again(
    adopted, legacy_resources, instance, shared_dir
):
    for batch in adopted.history.batches:
        write_legacy_file(shared_dir, batch)
    new = _new_legacy_style_batch(adopted.history)
    write_legacy_file(shared_dir, new)

    result = batch_file_sensor(dg.build_sensor_context(instance=instance, resources=legacy_resources))

    assert [r.partition_key for r in result.run_requests] == [new.run_id]
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [[new.run_id]]


def test_a_new_legacy_style_file_loads_on_top_of_the_adopted_history(
    adopted, legacy_resources, instance, shared_dir
):
    before = row_counts(adopted.url)
    max_store, max_order = query_rows(
        adopted.url, "SELECT (SELECT max(id) FROM etl.stores), (SELECT max(id) FROM etl.orders)"
    )[0]
    new = _new_legacy_style_batch(adopted.history)
    write_legacy_file(shared_dir, new)

    assert materialize_batches(instance, legacy_resources, [new.run_id]).success

    conn = connect_to(adopted.url)
    assert count_rows(conn, new.run_id) == {
        "raw_events": 18,
        "stores": 2,
        "products": 2,
        "orders": 10,
        "sales": 4,
        "rejected_events": 0,
    }
    conn.close()
    after = row_counts(adopted.url)
    assert {t: after[t] - before[t] for t in after} == {
        "etl.raw_events": 18,
        "etl.stores": 2,
        "etl.products": 2,
        "etl.orders": 10,
        "etl.sales": 4,
        "etl.rejected_events": 0,
        "utilities.processed_files": 1,
    }
    # ids continue after the legacy ones (products after the legacy sequence, which a rolled-back insert moved)
    assert query_rows(
        adopted.url, "SELECT id FROM etl.stores WHERE batch_id = %s ORDER BY id", (new.run_id,)
    ) == [
        (max_store + 1,),
        (max_store + 2,),
    ]
    assert query_rows(adopted.url, "SELECT min(id) FROM etl.orders WHERE batch_id = %s", (new.run_id,)) == [
        (max_order + 1,)
    ]
    # the sales reference legacy rows and keep their time of day
    assert query_rows(
        adopted.url,
        "SELECT store_id, product_id, order_id, to_char(sale_date AT TIME ZONE 'UTC', 'HH24:MI') FROM etl.sales "
        "WHERE batch_id = %s ORDER BY sale_date",
        (new.run_id,),
    ) == [
        (adopted.history.dropping_store_id, 1, 21, "00:01"),
        (adopted.history.steady_store_id, 2, 1, "08:00"),
        (adopted.history.dropping_store_id, 1, 21, "11:40"),
        (adopted.history.dropping_store_id, 1, 21, "23:59"),
    ]


def test_sales_drop_check_flags_the_legacy_store_on_its_first_evaluation(adopted, instance):
    rules = SalesDropRules(threshold_percent=-20, min_baseline_amount=50)  # as of yesterday, like the history
    assert rules.evaluation_date() == adopted.history.as_of

    result = dg.materialize(
        [store_daily_sales, sales_drop_check],
        instance=instance,
        resources={"etl_database": EtlDatabase(url=adopted.url), "sales_drop_rules": rules},
    )

    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    flagged = [r.data for r in evaluation.metadata["flagged_stores"].records]
    assert [
        (s["id"], s["amount_of_the_day"], s["seven_day_average"], s["change_percent"]) for s in flagged
    ] == [(adopted.history.dropping_store_id, 20.0, 100.0, -80.0)]
    assert evaluation.metadata["stores_examined"].value == 2  # the steady store too


#: Every entity of a batch with its id, in the order of its raw_id (the legacy load's order).
_ENTITY_IDS = (
    "SELECT 'stores', raw_id, id FROM etl.stores WHERE batch_id = %(b)s "
    "UNION ALL SELECT 'products', raw_id, id FROM etl.products WHERE batch_id = %(b)s "
    "UNION ALL SELECT 'orders', raw_id, id FROM etl.orders WHERE batch_id = %(b)s"
)
_DANGLING = (
    "SELECT count(*) FROM etl.sales s WHERE NOT EXISTS (SELECT 1 FROM etl.stores t WHERE t.id = s.store_id) "
    "OR NOT EXISTS (SELECT 1 FROM etl.products p WHERE p.id = s.product_id) "
    "OR NOT EXISTS (SELECT 1 FROM etl.orders o WHERE o.id = s.order_id)"
)


def test_materialize_of_an_adopted_legacy_batch_keeps_every_id(
    adopted, legacy_resources, instance, shared_dir
):
    """A legacy batch loaded again from its file (Materialize in the UI): its stores, products and orders keep
    the ids the legacy pipeline gave them, ranked by the legacy raw_id, so no sale of any batch is orphaned."""
    batch = adopted.history.batches[0]
    write_legacy_file(shared_dir, batch)
    before = sorted(
        (table, id_) for table, _, id_ in query_rows(adopted.url, _ENTITY_IDS, {"b": batch.run_id})
    )
    assert before and query_rows(adopted.url, _DANGLING) == [(0,)]

    assert materialize_batches(instance, legacy_resources, [batch.run_id]).success

    after = sorted(
        (table, id_) for table, _, id_ in query_rows(adopted.url, _ENTITY_IDS, {"b": batch.run_id})
    )
    assert after == before
    assert query_rows(adopted.url, _DANGLING) == [(0,)]
