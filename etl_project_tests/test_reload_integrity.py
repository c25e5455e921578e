"""A reload never corrupts another batch (issue 20), on files written the way the legacy generator writes them
(no ids: the database numbers the rows).

Batch X brings stores, products and orders; batch Y's sales reference them by the ids X's load gave. Then X
comes back: byte for byte (a re-drop), through Materialize in the UI, and as new versions that change values,
append rows or drop rows that Y references.
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import psycopg2.extensions
import pytest

from etl_project.analytics import refresh_store_daily_sales
from etl_project.defs.alerting.check_failure_sensor import check_failure_slack_sensor
from etl_project.defs.alerting.quarantine_sensor import quarantined_file_slack_sensor
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.ingestion.assets import batch_event_tables
from etl_project.defs.ingestion.integrity import references_valid
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.loading import quarantined_files
from etl_project_tests.helpers import materialize_batches, quarantine_reason, then_deliver
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack
from etl_testkit.legacy_files import LegacyIds, legacy_events, legacy_run_id, write_legacy_file

pytestmark = pytest.mark.every_postgres_major

NOW = datetime(2025, 4, 20, 9, 20)
X = legacy_run_id(NOW)
Y = legacy_run_id(NOW.replace(minute=21))
ENTITY_TABLES = ("stores", "products", "orders")
ALL_TABLES = ("raw_events", *ENTITY_TABLES, "sales", "rejected_events")


def snapshot(db: psycopg2.extensions.connection) -> dict[str, list[tuple]]:
    """Every row of every table a load writes, and store_daily_sales (rejected_at and refreshed_at aside)."""
    tables = {}
    with db.cursor() as cur:
        for table in ALL_TABLES:
            columns = "raw_id, batch_id, rejection_reason, payload" if table == "rejected_events" else "*"
            cur.execute(f"SELECT {columns} FROM etl.{table} ORDER BY 1, 2")  # noqa: S608 (names from this module)
            tables[table] = cur.fetchall()
        cur.execute(
            "SELECT sale_date, store_id, amount, items, sales_lines FROM etl.store_daily_sales ORDER BY 1, 2"
        )
        tables["store_daily_sales"] = cur.fetchall()
    return tables


def ids_by_name(db: psycopg2.extensions.connection, table: str) -> dict[str, int]:
    with db.cursor() as cur:
        column = "user_id::text || created_at::text" if table == "orders" else "name"
        cur.execute(f"SELECT {column}, id FROM etl.{table}")  # noqa: S608 (names from this module)
        return dict(cur.fetchall())


def dangling_references(db: psycopg2.extensions.connection) -> int:
    with db.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM etl.sales s WHERE NOT EXISTS (SELECT 1 FROM etl.stores t WHERE t.id = s.store_id)"
            " OR NOT EXISTS (SELECT 1 FROM etl.products p WHERE p.id = s.product_id)"
            " OR NOT EXISTS (SELECT 1 FROM etl.orders o WHERE o.id = s.order_id)"
        )
        return cur.fetchone()[0]


def legacy_bytes(directory: Path, events: list[tuple[str, dict]]) -> bytes:
    """X's file as the legacy writer would write these events (in a folder of its own)."""
    directory.mkdir(exist_ok=True)
    return write_legacy_file(directory, X, NOW, events).read_bytes()


def redrop(path: Path, content: bytes | None = None) -> None:
    """The file written again (same bytes unless given), with a new modification time."""
    original = path.read_bytes()
    path.unlink()
    path.write_bytes(original if content is None else content)
    earlier = time.time() - 60  # a new modification time, past the settle time
    os.utime(path, (earlier, earlier))


@pytest.fixture
def two_batches(instance, resources, shared_dir, db) -> tuple[Path, list[tuple[str, dict]]]:
    """X (2 stores, 2 products, 10 orders, no sales: the database is empty) and Y (38 sales of X's rows),
    loaded and refreshed."""
    rng = random.Random(20)
    x_events = legacy_events(rng, NOW, LegacyIds())
    x_path = write_legacy_file(shared_dir, X, NOW, x_events)
    materialize_batches(instance, resources, [X])
    y_events = legacy_events(rng, NOW, LegacyIds.in_database(db), sales=38)
    write_legacy_file(shared_dir, Y, NOW, [e for e in y_events if e[0] == "sales_event"])
    materialize_batches(instance, resources, [Y])
    refresh_store_daily_sales(db)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM etl.sales WHERE batch_id = %s", (Y,))
        assert cur.fetchone()[0] == 38
    return x_path, x_events


def bot(slack: FakeSlack) -> AlertChannel:
    return AlertChannel(slack_bot_token=BOT_TOKEN, slack_channel="#alerts", slack_api_url=slack.api_url)


def _tick(instance, resources) -> dg.SensorResult | dg.SkipReason:
    return batch_file_sensor(dg.build_sensor_context(instance=instance, resources=resources))


def test_a_redropped_identical_file_is_seen_again_not_reloaded(instance, resources, db, two_batches):
    x_path, _ = two_batches
    before = snapshot(db)
    redrop(x_path)

    tick = _tick(instance, resources)

    assert isinstance(tick, dg.SkipReason)
    assert "unchanged content" in tick.skip_message and X in tick.skip_message
    with db.cursor() as cur:
        cur.execute(
            "SELECT seen_again, file_mtime_ns FROM utilities.processed_files WHERE batch_id = %s", (X,)
        )
        assert cur.fetchone() == (1, x_path.stat().st_mtime_ns)
    assert isinstance(_tick(instance, resources), dg.SkipReason)  # known now: not hashed again
    assert snapshot(db) == before


def test_materialize_of_an_unchanged_batch_changes_no_row(instance, resources, db, two_batches):
    before = snapshot(db)
    materialisations = len(instance.fetch_materializations(dg.AssetKey("stores"), limit=100).records)

    materialize_batches(instance, resources, [X])  # Materialize on the loaded partition in the UI
    refresh_store_daily_sales(db)

    assert snapshot(db) == before
    assert dangling_references(db) == 0
    assert len(instance.fetch_materializations(dg.AssetKey("stores"), limit=100).records) == materialisations


def test_a_new_version_keeps_every_id_and_other_batches_references(
    instance, resources, db, tmp_path, two_batches
):
    x_path, x_events = two_batches
    stores_before = sorted(ids_by_name(db, "stores").values())
    orders_before = sorted(ids_by_name(db, "orders").values())
    # the same rows with one store renamed, and one more order appended
    changed = [(t, dict(p)) for t, p in x_events]
    changed[0][1]["name"] = "Renamed"
    changed.append(("order_event", {"created_at": NOW.strftime("%Y-%m-%d %H:%M:%S"), "user_id": 7}))
    redrop(x_path, legacy_bytes(tmp_path / "versions", changed))

    tick = _tick(instance, resources)
    assert [r.partition_key for r in tick.run_requests] == [X]
    materialize_batches(instance, resources, [X])

    assert sorted(ids_by_name(db, "stores").values()) == stores_before
    assert "Renamed" in ids_by_name(db, "stores")
    orders_after = sorted(ids_by_name(db, "orders").values())
    assert orders_after[: len(orders_before)] == orders_before and len(orders_after) == len(orders_before) + 1
    assert dangling_references(db) == 0


def test_a_version_that_would_orphan_other_batches_rows_is_refused(
    instance, resources, db, etl_database, tmp_path, two_batches
):
    x_path, x_events = two_batches
    before = snapshot(db)
    without_stores = [(t, p) for t, p in x_events if t != "store_event"]
    redrop(x_path, legacy_bytes(tmp_path / "versions", without_stores))

    materialize_batches(instance, resources, [X])

    assert snapshot(db) == before  # the loaded version stays, whole
    assert dangling_references(db) == 0
    reason = quarantine_reason(instance, X)
    assert "reload refused" in reason and f"etl.sales in other batches (e.g. {Y})" in reason
    [quarantined] = quarantined_files(db)
    assert quarantined.batch_id == X and quarantined.earlier_version_loaded
    assert "reload refused" in quarantined.reason
    assert isinstance(_tick(instance, resources), dg.SkipReason)  # that version is not tried again
    with FakeSlack() as slack:
        alert_resources = {"etl_database": etl_database, "alert_channel": bot(slack)}
        for _ in range(2):  # announced once per file version, like any quarantined file
            context = dg.build_sensor_context(instance=instance, resources=alert_resources)
            then_deliver(quarantined_file_slack_sensor(context).skip_message, instance, alert_resources)
    [message] = slack.messages
    assert "reload refused" in message["text"]


def test_the_legacy_pipelines_record_of_a_file_is_never_reloaded(instance, resources, db, two_batches):
    """A file the legacy pipeline loaded (its ledger has no size, time or checksum) dropped again: skipped, as
    the legacy pipeline's own ledger would."""
    x_path, _ = two_batches
    with db.cursor() as cur:
        cur.execute(
            "UPDATE utilities.processed_files SET size_bytes = NULL, file_mtime_ns = NULL, checksum_sha256 = NULL"
        )
    redrop(x_path)
    assert isinstance(_tick(instance, resources), dg.SkipReason)


def test_a_dangling_reference_fails_references_valid_and_is_posted_once(
    instance, resources, db, etl_database, two_batches
):
    """The guard for the next such bug: rows orphaned behind the loader's back (here by hand) fail the daily
    references_valid, which names the batch, and check_failure_slack_sensor posts it once."""
    with db.cursor() as cur:
        cur.execute("DELETE FROM etl.stores WHERE id = (SELECT min(store_id) FROM etl.sales)")
    resources = {"data_quality_limits": DataQualityLimits(), **resources}
    defs = dg.Definitions(assets=[batch_event_tables], asset_checks=[references_valid], resources=resources)
    result = dg.materialize(
        [batch_event_tables, references_valid],
        instance=instance,
        resources=resources,
        selection=dg.AssetSelection.checks(references_valid),
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["missing_sales_store_id"].value > 0
    assert evaluation.metadata["batches"].value == Y
    with FakeSlack() as slack:
        for _ in range(2):
            context = dg.build_sensor_context(
                instance=instance,
                definitions=defs,
                resources={"etl_database": etl_database, "alert_channel": bot(slack)},
            )
            alert_resources = {"etl_database": etl_database, "alert_channel": bot(slack)}
            then_deliver(check_failure_slack_sensor(context).skip_message, instance, alert_resources)
    [message] = slack.messages
    assert message["blocks"][0]["text"]["text"] == ":x: references_valid failed on sales"
    assert f"in batches {Y}" in message["text"]


def test_every_load_evaluates_references_valid_on_what_it_touched(instance, resources, two_batches):
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("sales"), "references_valid"), limit=10
    )
    scopes = [r.event.dagster_event.asset_check_evaluation_data.metadata["scope"].value for r in history]
    assert scopes == [f"the load of batch {Y}", f"the load of batch {X}"]
