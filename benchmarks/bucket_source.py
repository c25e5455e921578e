"""Scenario `bucket`: the bucket source against moto's S3 API server (ThreadedMotoServer, over HTTP).

1. A sensor tick over a prefix of many processed objects (default 100,000, all in the ledger and registered
   as partitions) plus one new one: its time, and how many list requests and keys it costs. A tick lists in
   full only the keys after the ledger's newest name, and sweeps 10,000 more (BucketSource.scan); a full
   listing of the prefix, for comparison, is one request per 1,000 keys.
2. The 1M-event file loaded from the bucket and from disk, in alternation, each in a worker process of its
   own: time ratio and the worker's peak RSS (target: under 100 MB from the bucket, the object streamed into
   COPY and never held whole).

moto answers each list request by scanning and sorting the whole bucket, so a request over 100k keys costs
seconds there that it does not on S3 (~50-100 ms a page); the per-request time is reported next to the tick's.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import timezone

import dagster as dg
import psycopg2

from benchmarks.large_file_loads import BATCH_ID, generate_large_batch, measure_worker
from benchmarks.report import Target, format_table
from benchmarks.support import BenchmarkError, BenchServer, log, sqlalchemy_url
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project.resources.bucket_client import s3_client as platform_s3_client
from etl_project.sources.bucket_object import last_modified_ns
from etl_project.store import processed_files
from etl_testkit.s3_server import s3_client, s3_server

MAX_TICK_SECONDS = 2.0
MAX_PEAK_RSS_MB = 100.0
TICKS = 3
BUCKET = "etl-bench"
TICK_PREFIX = "tick/"
LARGE_PREFIX = "large/"
NEW_BATCH_ID = "tick_new_arrival"
#: Both loads run in this worker, which (unlike benchmarks.workers) does not import Dagster: a run's load
#: process holds Dagster too, but the target is about what the load itself costs.
LOAD_WORKER = "etl_testkit.load_worker"
PARTITION_CHUNK = 10_000


@dataclass
class BucketResult:
    objects: int
    tick_seconds: list[float]
    median_tick_s: float
    list_requests_per_tick: int
    keys_listed_per_tick: int
    full_listing_requests: int
    one_list_request_s: float
    new_object_detected: bool
    load_from_disk_s: float
    load_from_bucket_s: float
    bucket_to_disk_ratio: float
    peak_rss_disk_mb: float | None
    peak_rss_bucket_mb: float | None
    rss_before_load_disk_mb: float | None
    rss_before_load_bucket_mb: float | None
    setup_seconds: dict[str, float]
    targets: list[Target] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "targets": [t.as_dict() for t in self.targets]}


class _ListingCounter:
    """Counts the list requests of the platform's client and the keys they return (botocore's event hooks)."""

    def __init__(self, client: object):
        self.requests = self.keys = 0
        events = client.meta.events  # type: ignore[attr-defined]
        events.register("after-call.s3.ListObjectsV2", self._count)

    def _count(self, parsed: dict, **_: object) -> None:
        self.requests += 1
        self.keys += len(parsed.get("Contents", []))


def _populate(objects: int) -> list[tuple[str, int, int, str]]:
    """`objects` empty batch objects put straight into moto's in-process backend (100k HTTP puts would take
    ten minutes); returns their versions as a listing shows them."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    versions = []
    for index in range(objects):
        batch_id = f"tick_{index:07d}"
        key = backend.put_object(BUCKET, f"{TICK_PREFIX}{batch_id}.csv", b"")
        listed_time = key.last_modified.replace(microsecond=0, tzinfo=timezone.utc)  # a listing has seconds
        versions.append((batch_id, 0, last_modified_ns(listed_time), key.etag))
    return versions


def _tick(instance: dg.DagsterInstance, resources: dict[str, object]) -> tuple[float, list[str]]:
    context = dg.build_sensor_context(instance=instance, resources=resources)
    context.log.setLevel(logging.WARNING)
    start = time.perf_counter()
    result = batch_file_sensor(context)
    seconds = time.perf_counter() - start
    if not isinstance(result, dg.SensorResult):
        return seconds, []
    return seconds, [k for r in result.dynamic_partitions_requests or [] for k in r.partition_keys]


def _measure_tick(
    server: BenchServer, endpoint: str, objects: int, setup: dict[str, float]
) -> dict[str, object]:
    start = time.perf_counter()
    versions = _populate(objects)
    s3_client(endpoint).put_object(Bucket=BUCKET, Key=f"{TICK_PREFIX}{NEW_BATCH_ID}.csv", Body=b"")
    setup["put objects (moto's backend)"] = time.perf_counter() - start
    etl_url = server.fresh_database("etl_bench_bucket")
    start = time.perf_counter()
    conn = psycopg2.connect(etl_url)
    try:
        with conn, conn.cursor() as cur:
            processed_files.record_loaded_object_versions(cur, versions)
    finally:
        conn.close()
    setup["COPY processed_files"] = time.perf_counter() - start
    storage_url = sqlalchemy_url(server.fresh_database("etl_bench_bucket_dagster", migrate=False))
    shared = SharedDirectory(source_url=f"s3://{BUCKET}/{TICK_PREFIX}", s3_endpoint_url=endpoint)
    resources = {"etl_database": EtlDatabase(url=etl_url), "shared_directory": shared}
    counter = _ListingCounter(platform_s3_client(endpoint))
    seen = [v[0] for v in versions]
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": storage_url}}}) as instance:
        start = time.perf_counter()
        for first in range(0, objects, PARTITION_CHUNK):
            instance.add_dynamic_partitions(batch_partitions.name, seen[first : first + PARTITION_CHUNK])
        setup["register partitions"] = time.perf_counter() - start
        ticks, detected, requests, keys = [], True, [], []
        for attempt in range(1, TICKS + 1):
            before = (counter.requests, counter.keys)
            seconds, new = _tick(instance, resources)
            requests.append(counter.requests - before[0])
            keys.append(counter.keys - before[1])
            log(f"bucket: tick {attempt}/{TICKS}: {seconds:.2f} s, {requests[-1]} list requests, new: {new}")
            ticks.append(seconds)
            detected = detected and new == [NEW_BATCH_ID]
    client = s3_client(endpoint)
    start = time.perf_counter()
    client.list_objects_v2(Bucket=BUCKET, Prefix=TICK_PREFIX, MaxKeys=1000)
    one_request = time.perf_counter() - start
    if not detected:
        raise BenchmarkError(
            f"the sensor did not report exactly the new object {NEW_BATCH_ID!r} on every tick"
        )
    return {
        "tick_seconds": ticks,
        "list_requests_per_tick": max(requests),
        "keys_listed_per_tick": max(keys),
        "one_list_request_s": one_request,
        "new_object_detected": detected,
    }


def run_bucket_scenario(
    server: BenchServer, *, objects: int, events: int, repeat: int, regenerate: bool
) -> BucketResult:
    """The tick over `objects` processed objects, then the large file from the bucket and from disk."""
    setup: dict[str, float] = {}
    with s3_server() as endpoint:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        log(f"bucket: {objects:,} processed objects in moto, the ledger and the partitions")
        tick = _measure_tick(server, endpoint, objects, setup)
        path, _ = generate_large_batch(events, regenerate=regenerate)
        start = time.perf_counter()
        s3_client(endpoint).upload_file(str(path), BUCKET, f"{LARGE_PREFIX}{BATCH_ID}.csv")
        setup["upload the large file"] = time.perf_counter() - start
        os.environ["ETL_S3_ENDPOINT_URL"] = endpoint  # the workers' environment (restored below)
        from_bucket = ["--source-url", f"s3://{BUCKET}/{LARGE_PREFIX}"]
        disk, bucket = [], []
        for attempt in range(1, repeat + 1):  # alternating, so that drift favours neither
            for runs, extra in ((disk, ()), (bucket, from_bucket)):
                server.checkpoint()
                runs.append(
                    measure_worker(
                        server, "platform", path, events, worker_module=LOAD_WORKER, worker_args=extra
                    )
                )
                where = "bucket" if extra else "disk"
                log(
                    f"bucket: load from {where} {attempt}/{repeat}: {runs[-1]['seconds']:.1f} s, "
                    f"peak RSS {runs[-1]['peak_rss_mb'] or 0:.0f} MB"
                )
        server.drop_created()
        os.environ.pop("ETL_S3_ENDPOINT_URL", None)
    disk_s = statistics.median(r["seconds"] for r in disk)
    bucket_s = statistics.median(r["seconds"] for r in bucket)
    peak_bucket = max((r["peak_rss_mb"] for r in bucket if r["peak_rss_mb"] is not None), default=None)
    median_tick = statistics.median(tick["tick_seconds"])
    return BucketResult(
        objects=objects,
        median_tick_s=median_tick,
        full_listing_requests=-(-objects // 1000),
        load_from_disk_s=disk_s,
        load_from_bucket_s=bucket_s,
        bucket_to_disk_ratio=bucket_s / disk_s,
        peak_rss_disk_mb=max((r["peak_rss_mb"] for r in disk if r["peak_rss_mb"] is not None), default=None),
        peak_rss_bucket_mb=peak_bucket,
        rss_before_load_disk_mb=statistics.median(r["rss_before_work_mb"] for r in disk),
        rss_before_load_bucket_mb=statistics.median(r["rss_before_work_mb"] for r in bucket),
        setup_seconds=setup,
        targets=[
            Target(
                f"bucket: sensor tick at {objects:,} processed objects (median, moto)",
                median_tick,
                MAX_TICK_SECONDS,
                "<",
                " s",
            ),
            Target(
                f"bucket: peak RSS loading {events:,} events from the bucket",
                peak_bucket,
                MAX_PEAK_RSS_MB,
                "<",
                " MB",
            ),
        ],
        **tick,  # type: ignore[arg-type]
    )


def render_bucket(result: BucketResult) -> str:
    rows = [
        ["ticks (s)", ", ".join(f"{s:.2f}" for s in result.tick_seconds)],
        ["median tick (s)", f"{result.median_tick_s:.2f}"],
        [
            "list requests per tick (a full listing: requests)",
            f"{result.list_requests_per_tick} ({result.full_listing_requests})",
        ],
        ["keys listed per tick (of)", f"{result.keys_listed_per_tick:,} ({result.objects + 1:,})"],
        ["one list request at this size, moto (s)", f"{result.one_list_request_s:.2f}"],
        ["new object detected on every tick", "yes" if result.new_object_detected else "NO"],
        ["load from disk, median (s)", f"{result.load_from_disk_s:.1f}"],
        ["load from the bucket, median (s)", f"{result.load_from_bucket_s:.1f}"],
        ["bucket / disk time", f"{result.bucket_to_disk_ratio:.2f}"],
        [
            "peak RSS from disk / from the bucket (MB)",
            f"{result.peak_rss_disk_mb or 0:.0f} / {result.peak_rss_bucket_mb or 0:.0f}",
        ],
        [
            "  of which before the load: imports (and boto3's client) (MB)",
            f"{result.rss_before_load_disk_mb or 0:.0f} / {result.rss_before_load_bucket_mb or 0:.0f}",
        ],
    ]
    return "\n".join(
        [
            f"Bucket source (moto's S3 API over HTTP): {result.objects:,} processed objects + 1 new; the large file",
            format_table(["measure", "value"], rows),
        ]
    )
