"""What only the bucket source has: ETag versions, ranged reads at one version, listing rules, the settings,
and the writers (the scheduled generator, `etl generate --out s3://...`). moto's S3 API server, over HTTP."""

from __future__ import annotations

import hashlib

import dagster as dg
import psycopg2
import pytest

from etl_project.cli import main
from etl_project.defs.generator.jobs import generate_batch_job
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.defs.resources import shared_resources
from etl_project.loading import SourceReadError, is_transient, load_batch
from etl_project.loading.staging import PARALLEL_STAGING_MIN_BYTES
from etl_project.resources import SharedDirectory
from etl_project.resources.from_environment import RunConfigOverrideError
from etl_project.sources import BucketSource, DirectorySource, InvalidSourceUrlError
from etl_project.sources.location import BucketLocation
from etl_project_tests.helpers import count_rows, materialize_batches
from etl_testkit.s3_server import BucketDrop

pytestmark = pytest.mark.every_postgres_major

HEADER = b'"batch_id","event_type","payload","batch_created_at"\n'


def store_rows(batch_id: str, first: int, count: int) -> bytes:
    return b"".join(
        f'"{batch_id}","store_event","{{\\"id\\": {n}, \\"created_at\\": \\"2025-04-20T09:00:00\\", '
        f'\\"name\\": \\"Store {n}\\", \\"tax_id\\": {n}, \\"status\\": \\"active\\"}}","2025-04-20 09:20:00"\n'.encode()
        for n in range(first, first + count)
    )


@pytest.fixture
def bucket(s3_endpoint, bucket_url, shared_dir) -> tuple[SharedDirectory, BucketDrop]:
    return (
        SharedDirectory(path=str(shared_dir), source_url=bucket_url, s3_endpoint_url=s3_endpoint),
        BucketDrop(s3_endpoint, bucket_url),
    )


def test_a_large_object_is_streamed_into_copy_in_two_parts_with_its_sha256(bucket, database_url):
    shared, drop = bucket
    rows = 1 + PARALLEL_STAGING_MIN_BYTES // len(store_rows("big", 1, 1))
    data = HEADER + store_rows("big", 1, rows)
    drop.put("big.csv", data)
    conn = psycopg2.connect(database_url)
    try:
        report = load_batch(conn, "big", shared.source().batch_object("big"))
    finally:
        conn.close()

    assert (report.rows_read, report.parsed_by) == (rows, "postgresql")
    assert report.checksum_sha256 == hashlib.sha256(data).hexdigest()
    assert report.source_etag and report.size_bytes == len(data)


def test_an_object_replaced_while_it_is_read_stops_the_read_and_the_retry_loads_the_new_version(
    bucket, database_url
):
    shared, drop = bucket
    drop.put("b1.csv", HEADER + store_rows("b1", 1, 3))
    with shared.source().batch_object("b1").open() as opened:
        drop.put("b1.csv", HEADER + store_rows("b1", 1, 4))
        with pytest.raises(SourceReadError, match="replaced or deleted while it was read") as stopped:
            opened.reader().read(100)
    assert is_transient(stopped.value)  # not quarantined: the step's retry policy runs the load again
    conn = psycopg2.connect(database_url)
    try:
        assert load_batch(conn, "b1", shared.source().batch_object("b1")).rows_read == 4
    finally:
        conn.close()


def test_only_batch_objects_directly_under_the_prefix_are_listed(bucket):
    shared, drop = bucket
    for name in ["b1.csv", ".hidden.csv", "notes.txt", "deeper/b2.csv", "bad...id.csv"]:
        drop.put(name, HEADER)

    scan = shared.source().scan()

    assert [(f.batch_id, f.size) for f in scan.ready] == [("b1", len(HEADER))]
    assert scan.ready[0].etag and scan.ready[0].mtime_ns > 0
    assert [note.split(":")[0] for note in scan.skipped] == ["bad...id.csv"]


def test_a_bucket_that_cannot_be_listed_skips_the_tick_with_the_reason(instance, etl_database, s3_endpoint):
    shared = SharedDirectory(source_url="s3://no-such-bucket-here/", s3_endpoint_url=s3_endpoint)
    context = dg.build_sensor_context(
        instance=instance, resources={"etl_database": etl_database, "shared_directory": shared}
    )

    skipped = batch_file_sensor(context)

    assert isinstance(skipped, dg.SkipReason)
    assert "Cannot list the shared directory s3://no-such-bucket-here/" in skipped.skip_message
    assert "NoSuchBucket" in skipped.skip_message


def test_the_source_comes_from_the_environment_and_a_run_cannot_change_it(monkeypatch, s3_endpoint):
    monkeypatch.setenv("ETL_SOURCE_URL", "s3://etl-batches/incoming")
    monkeypatch.setenv("ETL_S3_ENDPOINT_URL", s3_endpoint)
    shared = shared_resources().resources["shared_directory"]

    with dg.build_resources({"shared_directory": shared}) as built:
        source = built.shared_directory.source()
    assert isinstance(source, BucketSource) and source.location == "s3://etl-batches/incoming/"
    overridden = type(shared)(source_url="s3://elsewhere/")
    with pytest.raises(RunConfigOverrideError, match="ETL_SOURCE_URL"):
        overridden.setup_for_execution(None)
    monkeypatch.delenv("ETL_SOURCE_URL")
    with dg.build_resources({"shared_directory": shared_resources().resources["shared_directory"]}) as built:
        assert isinstance(built.shared_directory.source(), DirectorySource)


@pytest.mark.parametrize(
    "url", ["s3://key:the-secret@bucket/", "https://bucket/", "s3://No_Such/", "s3://b/p?x=1"]
)
def test_a_source_url_that_is_not_a_bucket_prefix_is_refused_without_repeating_a_secret(url):
    with pytest.raises(InvalidSourceUrlError) as refused:
        BucketLocation.parse(url)
    assert "the-secret" not in str(refused.value)


def test_the_scheduled_generator_writes_a_new_object_and_never_overwrites_one(
    instance, bucket, etl_database, db
):
    shared, drop = bucket
    resources = {"etl_database": etl_database, "shared_directory": shared}
    config = {"ops": {"write_generated_batch": {"config": {"batch_id": "gen1", "seed": 3}}}}

    assert generate_batch_job.execute_in_process(run_config=config, resources=resources).success
    assert drop.keys() == [f"{drop.prefix}gen1.csv"]
    materialize_batches(instance, resources, ["gen1"])
    assert count_rows(db, "gen1")["raw_events"] > 0

    again = generate_batch_job.execute_in_process(
        run_config=config, resources=resources, raise_on_error=False
    )
    assert not again.success  # the id is taken: the object exists (and the ledger has the batch)


def test_etl_generate_out_s3_writes_the_object(monkeypatch, s3_endpoint, bucket_url, capsys):
    drop = BucketDrop(s3_endpoint, bucket_url)
    monkeypatch.setenv("ETL_S3_ENDPOINT_URL", s3_endpoint)

    assert (
        main(["generate", "--out", bucket_url, "--batch-id", "manual_1", "--no-database", "--seed", "1"]) == 0
    )
    assert capsys.readouterr().out.strip() == f"{bucket_url}manual_1.csv"
    assert drop.keys() == [f"{drop.prefix}manual_1.csv"]
    assert main(["generate", "--out", bucket_url, "--batch-id", "manual_1", "--no-database"]) == 1
    assert "exists already" in capsys.readouterr().err


def test_a_tick_lists_past_the_newest_known_name_in_full_and_sweeps_the_rest_a_part_at_a_time(
    bucket, monkeypatch
):
    from etl_project.sources import bucket as bucket_module

    monkeypatch.setattr(bucket_module, "PAGE_KEYS", 1)
    monkeypatch.setattr(bucket_module, "SWEEP_KEYS", 2)
    monkeypatch.setattr(bucket_module, "SWEEP_SECONDS", 3600)  # here the keys, not the time, end each part
    shared, drop = bucket
    for name in ["a.csv", "b.csv", "c.csv", "d.csv"]:
        drop.put(name, HEADER)
    source = shared.source()

    def listed(newest_known):
        return sorted(f.batch_id for f in source.scan(newest_known).ready)

    assert listed(None) == ["a", "b", "c", "d"]  # an empty ledger: everything
    assert listed("d.csv") == ["a", "b"]  # nothing after d; the sweep's first part
    drop.put("e.csv", HEADER)
    drop.put("b.csv", HEADER + HEADER)  # replaced: seen when the sweep comes by
    assert listed("d.csv") == ["c", "d", "e"]  # e at once; the sweep's second part
    assert listed("d.csv") == ["e"]  # the sweep's last part: its end
    assert listed("d.csv") == ["a", "b", "e"]  # the sweep starts over
    [b] = [f for f in source.scan(None).ready if f.batch_id == "b"]
    assert b.size == 2 * len(HEADER)
