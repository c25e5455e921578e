"""Batch files into PostgreSQL through the partitioned event assets, against a real PostgreSQL."""

import json
import random
from datetime import date, datetime

import dagster as dg
import pytest
from faker import Faker

from etl_project.defs.generator.jobs import DatabaseIds
from etl_project.generator.events import (
    BatchShape,
    Catalog,
    generate_events,
    generate_history,
    write_batch_file,
)
from etl_project_tests.helpers import (
    check_evaluations,
    count_rows,
    failure_message,
    materialize_batches,
    quarantine_reason,
    write_generated_batch,
    write_raw_batch,
)

pytestmark = pytest.mark.every_postgres_major


def test_batch_file_lands_in_all_five_tables(instance, resources, shared_dir, db):
    write_generated_batch(
        shared_dir, "manual__2025-04-20T09:20:00+00:00", shape=BatchShape(2, 2, 10, (40, 40))
    )

    result = materialize_batches(instance, resources, ["manual__2025-04-20T09:20:00+00:00"])

    assert result.success
    counts = count_rows(db, "manual__2025-04-20T09:20:00+00:00")
    assert counts == {
        "raw_events": 54,
        "stores": 2,
        "products": 2,
        "orders": 10,
        "sales": 40,
        "rejected_events": 0,
    }
    materialization = instance.get_latest_materialization_event(dg.AssetKey("sales"))
    assert materialization.asset_materialization.partition == "manual__2025-04-20T09:20:00+00:00"
    assert materialization.asset_materialization.metadata["dagster/row_count"].value == counts["sales"]
    raw = instance.get_latest_materialization_event(dg.AssetKey("raw_events")).asset_materialization
    assert raw.metadata["rows_in_file"].value == 54
    assert len(raw.metadata["checksum_sha256"].value) == 64


def test_reloading_a_partition_replaces_its_rows(instance, resources, shared_dir, db):
    write_generated_batch(shared_dir, "b1")
    materialize_batches(instance, resources, ["b1"])
    first = count_rows(db, "b1")

    materialize_batches(instance, resources, ["b1"])
    materialize_batches(instance, resources, ["b1"])

    assert count_rows(db, "b1") == first
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM utilities.processed_files WHERE filename = 'b1.csv'")
        assert cur.fetchone()[0] == 1


def test_bad_rows_are_rejected_with_reasons_and_good_rows_load(instance, resources, shared_dir, db):
    store = {
        "id": 1,
        "created_at": "2025-04-20 09:00:00",
        "name": "Shop A",
        "tax_id": 123,
        "status": "active",
    }
    product = {"id": 2, "created_at": "2025-04-20 09:00:00", "name": "Pen", "price": 2.5}
    order = {"id": 3, "created_at": "2025-04-20 09:00:00", "user_id": 9}
    sale = {"sale_date": "2025-04-20", "order_id": 3, "store_id": 1, "product_id": 2, "quantity": 2}
    rows = [
        ("b", "store_event", json.dumps(store), "2025-04-20 09:20:00"),
        ("b", "product_event", json.dumps(product), "2025-04-20 09:20:00"),
        ("b", "order_event", json.dumps(order), "2025-04-20 09:20:00"),
        ("b", "sales_event", json.dumps(sale), "2025-04-20 09:20:00"),
        ("b", "store_event", json.dumps({**store, "id": 5, "status": "gone"}), "2025-04-20 09:20:00"),
        (
            "b",
            "store_event",
            json.dumps({k: v for k, v in store.items() if k != "name"} | {"id": 6}),
            "2025-04-20 09:20:00",
        ),
        ("b", "store_event", json.dumps({**store, "id": 7, "tax_id": "12x"}), "2025-04-20 09:20:00"),
        ("b", "store_event", json.dumps(store), "2025-04-20 09:20:00"),
        ("b", "sales_event", json.dumps({**sale, "quantity": 0}), "2025-04-20 09:20:00"),
        ("b", "sales_event", json.dumps({**sale, "store_id": 99}), "2025-04-20 09:20:00"),
        ("b", "sales_event", json.dumps({**sale, "product_id": 98}), "2025-04-20 09:20:00"),
        ("b", "sales_event", json.dumps({**sale, "order_id": 97}), "2025-04-20 09:20:00"),
        ("b", "sales_event", json.dumps({**sale, "sale_date": "20/04/2025"}), "2025-04-20 09:20:00"),
        ("b", "sales_event", '{"sale_date": "2025-04-20", "order_id": 3,', "2025-04-20 09:20:00"),
        ("b", "refund_event", "{}", "2025-04-20 09:20:00"),
        ("b", "product_event", json.dumps({**product, "id": 8, "price": 1.234}), "2025-04-20 09:20:00"),
        ("other", "order_event", json.dumps({**order, "id": 11}), "2025-04-20 09:20:00"),
        ("b", "order_event", json.dumps({**order, "id": 12}), "yesterday"),
        ("b", "order_event", "[1, 2]", "2025-04-20 09:20:00"),
    ]
    write_raw_batch(shared_dir, "b", rows)

    result = materialize_batches(instance, resources, ["b"])

    assert result.success
    counts = count_rows(db, "b")
    assert (counts["stores"], counts["products"], counts["orders"], counts["sales"]) == (1, 1, 1, 1)
    with db.cursor() as cur:
        cur.execute(
            "SELECT file_row, rejection_reason FROM etl.rejected_events WHERE batch_id = 'b' ORDER BY 1"
        )
        reasons = dict(cur.fetchall())
    assert reasons == {
        5: "invalid status: 'gone' (expected one of active, closed, test)",
        6: "missing field: name",
        7: 'wrong type: tax_id must be an integer, got "12x"',
        8: "duplicate id: 1 appears earlier in this batch",
        9: "not positive: quantity must be > 0, got 0",
        10: "unknown store_id: no row in etl.stores with id 99",
        11: "unknown product_id: no row in etl.products with id 98",
        12: "unknown order_id: no row in etl.orders with id 97",
        13: 'wrong type: sale_date must be an ISO 8601 date or timestamp (YYYY-MM-DD[ HH:MM:SS][+HH:MM]), got "20/04/2025"',
        14: "malformed JSON: payload is not valid JSON",
        15: "unknown event type: 'refund_event'",
        16: "wrong type: price must be a decimal with at most 2 places, got 1.234",
        17: "batch mismatch: batch_id 'other' differs from the file's batch",
        18: "invalid batch_created_at: 'yesterday'",
        19: "malformed JSON: payload is not a JSON object",
    }
    assert sum(counts[t] for t in ("stores", "products", "orders", "sales", "rejected_events")) == len(rows)
    metadata = instance.get_latest_materialization_event(dg.AssetKey("sales")).asset_materialization.metadata
    assert metadata["rows_rejected"].value == 6  # every rejected sales_event row, malformed JSON included
    assert metadata["rejected_by_reason"].value["unknown store_id"] == 1
    shown = metadata["rejected_rows"].value.records
    assert [(r.data["file_row"], r.data["reason"]) for r in shown] == [(n, reasons[n]) for n in range(9, 15)]
    assert (
        shown[0].data["event_type"] == "sales_event" and '"quantity": 0' in shown[0].data["payload_excerpt"]
    )
    raw = instance.get_latest_materialization_event(dg.AssetKey("raw_events")).asset_materialization.metadata
    assert raw["rows_rejected"].value == len(reasons)  # the batch's total, not only the envelope's
    assert raw["envelope_rejects"].value == 5
    assert [r.data["file_row"] for r in raw["rejected_rows"].value.records] == sorted(reasons)


def test_duplicate_id_from_an_earlier_batch_is_rejected(instance, resources, shared_dir, db):
    write_generated_batch(shared_dir, "first", seed=3)
    write_generated_batch(shared_dir, "second", seed=3)  # the same ids again

    materialize_batches(instance, resources, ["first"])
    materialize_batches(instance, resources, ["second"])

    counts = count_rows(db, "second")
    assert counts["stores"] == counts["products"] == counts["orders"] == 0
    with db.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT split_part(rejection_reason, ' was', 1) LIKE 'duplicate id: %%' "
            "FROM etl.rejected_events WHERE batch_id = 'second' AND event_type <> 'sales_event'"
        )
        assert cur.fetchall() == [(True,)]


def test_entity_without_id_takes_the_next_id_after_explicit_ones(instance, resources, shared_dir, db):
    store = {"created_at": "2025-04-20 09:00:00", "name": "Shop", "tax_id": 1, "status": "active"}
    write_raw_batch(
        shared_dir,
        "ids",
        [
            ("ids", "store_event", json.dumps({**store, "id": 40}), "2025-04-20 09:20:00"),
            ("ids", "store_event", json.dumps(store), "2025-04-20 09:20:00"),
        ],
    )
    materialize_batches(instance, resources, ["ids"])
    with db.cursor() as cur:
        cur.execute("SELECT id FROM etl.stores ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == [40, 41]


def test_unreadable_file_fails_its_own_check_and_the_run_and_the_others_stay_green(
    instance, resources, shared_dir, db
):
    write_generated_batch(shared_dir, "a_good")
    (shared_dir / "b_latin1.csv").write_bytes(
        '"batch_id","event_type","payload","batch_created_at"\n"b","é"'.encode("latin-1")
    )
    write_generated_batch(shared_dir, "c_good", seed=2)

    result = materialize_batches(instance, resources, ["a_good", "b_latin1", "c_good"], raise_on_error=False)

    assert result.success  # one run over the range of three partitions
    readable = check_evaluations(instance, "raw_events", "batch_file_readable")
    assert {batch: e.passed for batch, e in readable.items()} == {
        "a_good": True,
        "b_latin1": False,
        "c_good": True,
    }
    assert readable["b_latin1"].metadata["file"].value == "b_latin1.csv"
    assert "b_latin1.csv: not valid UTF-8" in quarantine_reason(instance, "b_latin1")
    accounted = check_evaluations(instance, "sales", "rows_accounted_for")
    assert {batch: e.passed for batch, e in accounted.items()} == {
        "a_good": True,
        "b_latin1": True,
        "c_good": True,
    }
    assert accounted["b_latin1"].description.startswith("Nothing to count: the file was quarantined whole")
    assert count_rows(db, "a_good")["raw_events"] > 0
    assert count_rows(db, "c_good")["raw_events"] > 0
    with db.cursor() as cur:
        cur.execute("SELECT status, error FROM utilities.processed_files WHERE filename = 'b_latin1.csv'")
        status, error = cur.fetchone()
    assert status == "quarantined" and "not valid UTF-8" in error
    materialized = instance.get_materialized_partitions(dg.AssetKey("sales"))
    assert materialized == {"a_good", "c_good"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty"),
        (
            b'"id","name"\n"1","x"\n',
            "wrong header: missing column(s) batch_id, event_type, payload, batch_created_at",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not valid UTF-8"),
    ],
)
def test_file_level_problems_name_the_file_and_the_problem(instance, resources, shared_dir, content, problem):
    (shared_dir / "broken.csv").write_bytes(content)

    result = materialize_batches(instance, resources, ["broken"])

    assert result.success
    assert "broken.csv: " + problem in quarantine_reason(instance, "broken")
    # raw_events' partition says why, holding none of the file's rows; the event tables get nothing
    raw = instance.get_latest_materialization_event(dg.AssetKey("raw_events")).asset_materialization
    assert raw.partition == "broken" and raw.metadata["dagster/row_count"].value == 0
    assert not instance.get_materialized_partitions(dg.AssetKey("sales"))


def test_header_only_file_is_an_empty_batch(instance, resources, shared_dir, db):
    write_raw_batch(shared_dir, "empty", [])
    assert materialize_batches(instance, resources, ["empty"]).success
    assert sum(count_rows(db, "empty").values()) == 0


def test_a_load_failing_midway_leaves_nothing_behind(instance, resources, shared_dir, db):
    write_generated_batch(shared_dir, "doomed")
    with db.cursor() as cur:  # a real PostgreSQL error once stores, products and orders are in
        cur.execute(
            "CREATE FUNCTION etl.fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$;"
            "CREATE TRIGGER fail BEFORE INSERT ON etl.sales FOR EACH ROW EXECUTE FUNCTION etl.fail()"
        )

    result = materialize_batches(instance, resources, ["doomed"], raise_on_error=False)

    assert not result.success
    assert "disk on fire" in failure_message(result)
    assert count_rows(db, "doomed") == dict.fromkeys(count_rows(db, "doomed"), 0)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM utilities.processed_files")
        assert cur.fetchone()[0] == 0


def test_quotes_and_backslashes_survive_both_escaping_styles(instance, resources, shared_dir, db):
    name = 'O"Brien \\ Sons é'
    store = {"id": 1, "created_at": "2025-04-20 09:00:00", "name": name, "tax_id": 1, "status": "active"}
    write_raw_batch(shared_dir, "q1", [("q1", "store_event", json.dumps(store), "2025-04-20 09:20:00")])
    (shared_dir / "q2.csv").write_text(
        '"batch_id","event_type","payload","batch_created_at"\n'
        + '"q2","store_event","'
        + json.dumps({**store, "id": 2}).replace("\\", "\\\\").replace('"', '\\"')
        + '","2025-04-20 09:20:00"\n',
        encoding="utf-8",
    )

    assert materialize_batches(instance, resources, ["q1", "q2"]).success

    with db.cursor() as cur:
        cur.execute("SELECT name FROM etl.stores ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == [name, name]


def test_seeded_history_and_batches_generated_meanwhile_never_share_ids(instance, resources, shared_dir, db):
    """`make dev` seeds history while the every-minute generator may already run: both reserve ids from the
    database's sequences, so a generated batch loaded before the history rejects nothing (and vice versa)."""
    history = generate_history(
        shared_dir, end_date=date(2026, 11, 20), days=2, batches_per_day=1, ids=DatabaseIds(db)
    )
    fake = Faker()
    fake.seed_instance(5)
    events = generate_events(
        fake=fake,
        rng=random.Random(5),
        ids=DatabaseIds(db),
        catalog=Catalog(),
        created_at=datetime(2026, 11, 21, 9, 0),
        shape=BatchShape(stores=2, products=2, orders=3, sales=(5, 5)),
    )
    generated = write_batch_file(shared_dir, "generated", datetime(2026, 11, 21, 9, 0), events)
    db.commit()

    materialize_batches(
        instance, resources, [generated.stem]
    )  # loaded first, as when history is still loading
    materialize_batches(instance, resources, [path.stem for path in history])

    with db.cursor() as cur:
        cur.execute("SELECT count(*), string_agg(DISTINCT rejection_reason, '; ') FROM etl.rejected_events")
        assert cur.fetchone() == (0, None)
        cur.execute("SELECT count(*) FROM etl.stores")
        assert cur.fetchone()[0] == 6 + 2
