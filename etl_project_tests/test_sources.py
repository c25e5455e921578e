"""The bucket source behaves as the directory does: each test runs against both (a directory of files, and
moto's S3 API server reached over HTTP through boto3), putting the same bytes and expecting the same outcome.

New, replaced, identical, quarantined and dropped files; hostile content quarantined with the same reasons;
the quarantine alert. What only a bucket has (ETags, a version replaced mid-read) is in test_bucket_source.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pytest

from etl_project.defs.alerting.quarantine_sensor import quarantined_file_slack_sensor
from etl_project.defs.alerting.resources import AlertChannel
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.loading import quarantined_files, record_dropped
from etl_project.resources import SharedDirectory
from etl_project_tests.helpers import count_rows, materialize_batches, quarantine_reason, then_deliver
from etl_testkit.fake_slack import BOT_TOKEN, FakeSlack
from etl_testkit.s3_server import BucketDrop, DirectoryDrop

pytestmark = pytest.mark.every_postgres_major

WRONG_HEADER = b'"id","name"\n"1","x"\n'


def batch_bytes(batch_id: str, stores: int = 2) -> bytes:
    """A small valid batch of `stores` stores (no references: it loads alone)."""
    lines = ['"batch_id","event_type","payload","batch_created_at"']
    for n in range(1, stores + 1):
        payload = (
            f'{{\\"id\\": {n}, \\"created_at\\": \\"2025-04-20T09:00:00\\", \\"name\\": \\"Store {n}\\", '
            f'\\"tax_id\\": {n}, \\"status\\": \\"active\\"}}'
        )
        lines.append(f'"{batch_id}","store_event","{payload}","2025-04-20 09:20:00"')
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Source:
    """One kind of source under test: where to put files, and the resources that read it."""

    drop: DirectoryDrop | BucketDrop
    resources: dict


@pytest.fixture(params=["directory", "bucket"])
def source(request, etl_database, shared_dir) -> Source:
    if request.param == "directory":
        return Source(
            DirectoryDrop(shared_dir),
            {
                "etl_database": etl_database,
                "shared_directory": SharedDirectory(path=str(shared_dir), settle_seconds=0),
            },
        )
    endpoint, url = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("bucket_url")
    shared = SharedDirectory(path=str(shared_dir), source_url=url, s3_endpoint_url=endpoint)
    return Source(BucketDrop(endpoint, url), {"etl_database": etl_database, "shared_directory": shared})


def _tick(instance, source: Source) -> dg.SensorResult | dg.SkipReason:
    return batch_file_sensor(dg.build_sensor_context(instance=instance, resources=source.resources))


def _ledger(db, batch_id: str) -> tuple:
    with db.cursor() as cur:
        cur.execute(
            "SELECT status, size_bytes, seen_again, source_etag IS NOT NULL FROM utilities.processed_files "
            "WHERE batch_id = %s",
            (batch_id,),
        )
        return cur.fetchone()


def _load_what_the_tick_asked(instance, source: Source, result) -> None:
    """One batch per run here: the sensor's requests are single partitions."""
    materialize_batches(instance, source.resources, sorted(r.partition_key for r in result.run_requests))


def test_a_new_file_is_loaded_once_and_its_version_recorded(instance, source, db):
    source.drop.put("b1.csv", batch_bytes("b1"))

    first = _tick(instance, source)
    assert [request.partition_key for request in first.run_requests] == ["b1"]
    _load_what_the_tick_asked(instance, source, first)

    assert count_rows(db, "b1")["stores"] == 2
    assert _ledger(db, "b1") == ("loaded", len(batch_bytes("b1")), 0, source.drop.kind == "bucket")
    assert isinstance(_tick(instance, source), dg.SkipReason)


def test_the_same_bytes_put_again_are_seen_again_not_reloaded(instance, source, db):
    source.drop.put("b1.csv", batch_bytes("b1"))
    _load_what_the_tick_asked(instance, source, _tick(instance, source))
    source.drop.put("b1.csv", batch_bytes("b1"))

    again = _tick(instance, source)

    assert isinstance(again, dg.SkipReason) and "unchanged content" in again.skip_message
    assert _ledger(db, "b1")[2] == 1
    assert isinstance(_tick(instance, source), dg.SkipReason)
    assert "No new files" in _tick(instance, source).skip_message


def test_a_replaced_file_is_reloaded_and_replaces_the_batch(instance, source, db):
    source.drop.put("b1.csv", batch_bytes("b1", stores=2))
    _load_what_the_tick_asked(instance, source, _tick(instance, source))
    source.drop.put("b1.csv", batch_bytes("b1", stores=3))

    reload = _tick(instance, source)
    assert [request.partition_key for request in reload.run_requests] == ["b1"]
    _load_what_the_tick_asked(instance, source, reload)

    assert count_rows(db, "b1")["stores"] == 3
    assert _ledger(db, "b1")[:2] == ("loaded", len(batch_bytes("b1", stores=3)))
    assert isinstance(_tick(instance, source), dg.SkipReason)


def test_an_unreadable_file_is_quarantined_announced_once_then_loaded_when_fixed(
    instance, source, db, etl_database
):
    source.drop.put("bad.csv", WRONG_HEADER)
    _load_what_the_tick_asked(instance, source, _tick(instance, source))

    assert "bad.csv: wrong header" in quarantine_reason(instance, "bad")
    assert [f.batch_id for f in quarantined_files(db)] == ["bad"]
    assert isinstance(_tick(instance, source), dg.SkipReason)  # that version is not tried again
    with FakeSlack() as slack:
        channel = AlertChannel(
            slack_bot_token=BOT_TOKEN, slack_channel="#alerts", slack_api_url=slack.api_url
        )
        alert_resources = {"etl_database": etl_database, "alert_channel": channel}
        for _ in range(2):
            context = dg.build_sensor_context(instance=instance, resources=alert_resources)
            then_deliver(quarantined_file_slack_sensor(context).skip_message, instance, alert_resources)
    [message] = slack.messages
    assert "bad.csv" in message["text"] and "wrong header" in message["text"]

    source.drop.put("bad.csv", batch_bytes("bad"))
    fixed = _tick(instance, source)
    assert [request.partition_key for request in fixed.run_requests] == ["bad"]
    _load_what_the_tick_asked(instance, source, fixed)
    assert _ledger(db, "bad")[0] == "loaded" and count_rows(db, "bad")["stores"] == 2


def test_a_dropped_version_is_never_loaded_but_a_new_one_is(instance, source, db):
    source.drop.put("gone.csv", b"\x00\x01binary")
    _load_what_the_tick_asked(instance, source, _tick(instance, source))
    assert record_dropped(db, "gone") is not None

    assert isinstance(_tick(instance, source), dg.SkipReason)
    source.drop.put("gone.csv", batch_bytes("gone"))
    again = _tick(instance, source)
    assert [request.partition_key for request in again.run_requests] == ["gone"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'"batch_id",' * 200 + b'"x"\n', "header too long"),
        (b"\xff\xfe not utf-8\n", "not valid UTF-8"),
        (b"", "the file is empty"),
    ],
)
def test_hostile_content_is_quarantined_with_the_same_reason(instance, source, content, reason):
    source.drop.put("h.csv", content)
    _load_what_the_tick_asked(instance, source, _tick(instance, source))

    assert reason in quarantine_reason(instance, "h")


def test_a_partition_whose_file_is_gone_is_quarantined(instance, source, db):
    source.drop.put("b1.csv", batch_bytes("b1"))
    result = _tick(instance, source)
    source.drop.delete("b1.csv")
    _load_what_the_tick_asked(instance, source, result)

    assert "b1.csv: no such" in quarantine_reason(instance, "b1")
    assert _ledger(db, "b1")[:2] == ("quarantined", 0)
